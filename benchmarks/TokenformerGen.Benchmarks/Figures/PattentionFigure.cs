using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Primitives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 3: forward + backward of the runtime's <see cref="Pattention"/> (l2_norm_gelu) against a
/// plain MLP with identical shapes and matmul FLOPs: Linear(d_in → n) → GeLU → Linear(n → d_out), no
/// bias. Both get the same input (which needs a gradient, as inside a model) and the same output gradient.
/// </summary>
internal sealed class PattentionFigure : IFigure
{
    public int Number => 3;

    public string Name => "pattention";

    public void Run(BenchContext context)
    {
        var cases = context.Smoke
            ? new[] { ("smoke", 64L, 32L, 64L, 32L) }
            : new[]
            {
                ("50M FFN", 2048L, 768L, 3072L, 768L),
                ("50M q/k/v/proj", 2048L, 768L, 768L, 768L),
                ("10M FFN", 2048L, 384L, 1536L, 384L),
                ("10M q/k/v/proj", 2048L, 384L, 384L, 384L),
            };
        var pairs = context.Smoke ? 2 : 15;
        var table = new FigureTable("Figure 3 — Pattention (l2_norm_gelu) vs Linear→GeLU→Linear, forward + backward",
                                    "case", "rows × d_in → n → d_out", "MLP median", "Pattention median", "ratio (median of pairs)", "ratio min–max", "MLP GFLOP/s");
        double? headline = null;
        foreach (var (label, rows, dIn, n, dOut) in cases)
        {
            var result = Measure(rows, dIn, n, dOut, pairs);
            var flops = 3 * 2.0 * rows * n * (dIn + dOut);
            var (lo, hi) = result.RatioRange;
            table.Add(label, $"{rows} × {dIn} → {n} → {dOut}", $"{1e3 * result.BaselineMedian:F1} ms", $"{1e3 * result.CandidateMedian:F1} ms",
                      FigureTable.Ratio(result.Ratio), $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}", flops / result.BaselineMedian / 1e9);
            headline ??= result.Ratio;
        }
        table.Notes.Add($"{pairs} pairs in ABBA order after one warm-up each; ratio = median over pairs of Pattention / MLP.");
        table.Notes.Add("Matmul FLOPs are identical: X·Kᵀ [rows×d_in]·[d_in×n] and Θ·V [rows×n]·[n×d_out] against X·W₁ᵀ and H·W₂ᵀ.");
        table.Print(context.Out);
        context.Verdicts.Add(new Verdict(Number, "Pattention / MLP (fwd+bwd)", $"{FigureTable.Ratio(headline!.Value)} at {cases[0].Item1}", "≤ 1.25×", context.Smoke ? null : headline <= 1.25));
    }

    /// <summary>Pairs of (MLP, Pattention) forward+backward times.</summary>
    public static Paired Measure(long rows, long dIn, long n, long dOut, int pairs)
    {
        using var generator = new Generator(3);
        using var pattention = new Pattention(dIn, n, dOut);
        using var up = nn.Linear(dIn, n, hasBias: false);
        using var down = nn.Linear(n, dOut, hasBias: false);
        using (no_grad())
        {
            pattention.Keys.normal_(0, 0.02, generator);
            pattention.Values.normal_(0, 0.02, generator);
            up.weight!.normal_(0, 0.02, generator);
            down.weight!.normal_(0, 0.02, generator);
        }
        using var input = randn([rows, dIn], generator: generator).requires_grad_();
        using var outputGradient = randn([rows, dOut], generator: generator);

        void Mlp()
        {
            using var scope = NewDisposeScope();
            var output = down.forward(nn.functional.gelu(up.forward(input)));
            output.backward([outputGradient]);
            up.zero_grad();
            down.zero_grad();
            input.grad?.zero_();
        }

        void Pattention()
        {
            using var scope = NewDisposeScope();
            var output = pattention.forward(input);
            output.backward([outputGradient]);
            pattention.zero_grad();
            input.grad?.zero_();
        }

        return Timing.Alternate(Mlp, Pattention, pairs);
    }
}
