using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Inference;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 7: sampling speed of <see cref="TextSampler.Generate"/> with and without the KV cache, for
/// two generation lengths from a one-token prompt (batch 1, temperature 0.8, top-k 40).
/// </summary>
internal sealed class GenerationFigure : IFigure
{
    public int Number => 7;

    public string Name => "generation";

    public void Run(BenchContext context)
    {
        var size = context.Smoke ? BenchModels.Tiny : BenchModels.TenM;
        var lengths = context.Smoke ? new[] { 4, 16 } : new[] { 64, 256 };
        var pairs = context.Smoke ? 1 : 3;
        using var model = BenchModels.Initialized(size);
        long[] prompt = ['T'];
        var table = new FigureTable($"Figure 7 — generation tokens/s, {size.Label} model, batch 1",
                                    "new tokens", "without cache", "with KV cache", "cache speed-up (median of pairs)", "speed-up min–max");
        var speedups = new List<double>();
        foreach (var length in lengths)
        {
            context.Log($"generation: {length} tokens");
            var result = Timing.Alternate(
                () => TextSampler.Generate(model, prompt, length, new SamplingOptions(UseCache: false)),
                () => TextSampler.Generate(model, prompt, length, new SamplingOptions(UseCache: true)),
                pairs);
            var speedup = 1 / result.Ratio;
            var (lo, hi) = result.RatioRange;
            speedups.Add(speedup);
            table.Add(length, $"{length / result.BaselineMedian:F1} tok/s", $"{length / result.CandidateMedian:F1} tok/s", FigureTable.Ratio(speedup), $"{FigureTable.Ratio(1 / hi)}–{FigureTable.Ratio(1 / lo)}");
        }
        table.Notes.Add($"{pairs} pairs per length (ABBA) after one warm-up each; the same seed, so both paths sample the same tokens.");
        table.Notes.Add("Without a cache every new token re-runs the whole prefix (quadratic); with it, one position per step.");
        table.Print(context.Out);
        var met = speedups[0] > 1 && speedups[^1] > speedups[0];
        context.Verdicts.Add(new Verdict(Number, "KV-cache speed-up", string.Join(" → ", lengths.Zip(speedups, (l, s) => $"{FigureTable.Ratio(s)} at {l}")), "> 1× and growing with length", context.Smoke ? null : met));
    }
}
