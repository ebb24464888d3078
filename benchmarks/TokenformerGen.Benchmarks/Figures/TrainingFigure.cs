using TokenformerGen.Architecture;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Training;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 2: training throughput (tokens/s) of the runtime's <see cref="Trainer"/> on three generated
/// sizes, and model-FLOPs utilisation = training FLOPs per token × tokens/s ÷ matmul throughput. The
/// matmul limit is probed right before every step (the larger of 1024³ and the model's own FFN
/// product), so each step's MFU is a ratio of two measurements taken back to back.
/// </summary>
internal sealed class TrainingFigure : IFigure
{
    public int Number => 2;

    public string Name => "training";

    public void Run(BenchContext context)
    {
        var (batch, seq) = context.Smoke ? (2, 32) : (8, 256);
        var sizes = context.Smoke
            ? new[] { (BenchModels.Tiny, 2) }
            : new[] { (BenchModels.Tiny, 12), (BenchModels.TenM, 8), (BenchModels.FiftyM, 6) };
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var table = new FigureTable($"Figure 2 — training throughput and MFU (batch {batch} × context {seq}, AdamW, clip 1.0)",
                                    "size", "parameters", "train FLOP/token", "median step", "tokens/s", "achieved GFLOP/s", "matmul limit GFLOP/s", "MFU (median)", "MFU min–max");
        double? fiftyMfu = null;
        foreach (var (size, steps) in sizes)
        {
            context.Log($"training {size.Label}: {steps} measured steps");
            using var model = BenchModels.Initialized(size);
            var stage = model.Stage;
            var arch = stage.Architecture;
            var flopsPerToken = stage.TrainingFlopsPerTokenAt(seq);
            var options = new TrainerOptions { Steps = 10_000, Batch = batch, Context = seq };
            using var trainer = new Trainer(model, data, options);
            using var square = new MatmulProbe("1024³", 1024, 1024, 1024);
            using var own = new MatmulProbe("own FFN", (long)batch * seq, arch.Hidden, stage.Tokens.Ffn);
            square.Calibrate(context.Smoke ? 0.01 : 0.15);
            own.Calibrate(context.Smoke ? 0.01 : 0.15);
            trainer.Step();   // warm-up: allocator, JIT, first-touch of the optimizer state
            var seconds = new List<double>();
            var limits = new List<double>();
            var mfu = new List<double>();
            for (var i = 0; i < steps; i++)
            {
                var limit = Math.Max(square.Sample(), own.Sample());
                var step = Timing.Seconds(() => trainer.Step());
                var achieved = flopsPerToken * options.TokensPerStep / step / 1e9;
                seconds.Add(step);
                limits.Add(limit);
                mfu.Add(achieved / limit);
            }
            var median = Stats.Median(seconds);
            var tokensPerSecond = options.TokensPerStep / median;
            table.Add(size.Label, stage.Parameters, (double)flopsPerToken, $"{median:F3} s", tokensPerSecond, flopsPerToken * tokensPerSecond / 1e9,
                      Stats.Median(limits), FigureTable.Percent(Stats.Median(mfu)), $"{FigureTable.Percent(Stats.Min(mfu))}–{FigureTable.Percent(Stats.Max(mfu))}");
            if (size == BenchModels.FiftyM) fiftyMfu = Stats.Median(mfu);
        }
        table.Notes.Add("FLOPs per token: ModelSize.TrainingFlopsPerToken (3 × forward; attention counted without the causal half, PaLM-style; elementwise work not counted).");
        table.Notes.Add("Matmul limit: probed before every step (max of 1024³ and [batch·context × d]·[d × n_ffn]); MFU is the median of per-step ratios.");
        table.Print(context.Out);
        if (fiftyMfu is double f)
            context.Verdicts.Add(new Verdict(Number, "training MFU at ~50M", FigureTable.Percent(f), "≥ 50%", f >= 0.5));
        else
            context.Verdicts.Add(new Verdict(Number, "training MFU", "smoke run (tiny only)", "≥ 50% at ~50M", null));
    }
}
