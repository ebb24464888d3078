using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Devices;
using TokenformerGen.Modules;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 9: bf16 mixed precision against fp32 (issue 8). (a) each precision's own matmul limit; (b) training steps of
/// the ~50M model in both precisions, alternated ABBA in one run, with MFU against each precision's limit probed right
/// before each step; (c) the ~10M model trained 200 steps in both precisions from the same weights on the same batches,
/// steps alternated, and its loss compared; (d) the stages of the example's default run (TinyKjv), to decide whether
/// <c>run</c> should train in bf16; (e, f) the released shapes (<see cref="ReleasedShapePrecision"/>).
/// </summary>
internal sealed class PrecisionFigure : IFigure
{
    private static readonly ComputeTarget Fp32 = new(CPU, Precision.Fp32);
    private static readonly ComputeTarget Bf16 = new(CPU, Precision.Bf16);

    private const int Figure = 9;

    public int Number => Figure;

    public string Name => "precision";

    public void Run(BenchContext context)
    {
        if (context.Shape is { } shape)
        {
            ReleasedShapePrecision.Run(context, [shape], brief: true);
            return;
        }
        var limits = MatmulLimits(context);
        StepSpeed(context, limits);
        LossAfterTraining(context);
        DefaultRunStages(context);
        ReleasedShapePrecision.Run(context, BenchModels.ReleasedShapes, brief: false);
    }

    /// <summary>1024³ and the ~50M FFN product in fp32 and bf16, fp16 at 1024³ for the record; shapes sampled round robin.</summary>
    private static Dictionary<ScalarType, double> MatmulLimits(BenchContext context)
    {
        var (square, rows) = context.Smoke ? (128L, 64L) : (1024L, 2048L);
        var probes = new List<MatmulProbe>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            probes.Add(new MatmulProbe($"{Label(dtype)} square {square}³", square, square, square, dtype));
            probes.Add(new MatmulProbe($"{Label(dtype)} 50M FFN keys: X·Kᵀ", rows, context.Smoke ? 96 : 768, context.Smoke ? 128 : 3072, dtype));
        }
        var half = new MatmulProbe($"fp16 square {square}³", square, square, square, ScalarType.Float16);
        try
        {
            context.Log("precision: matmul limits");
            foreach (var probe in probes) probe.Calibrate(context.Smoke ? 0.01 : 0.25);
            half.Calibrate(0.01);   // one product per sample: it is slow
            var samples = context.Smoke ? 2 : 7;
            var results = probes.Append(half).ToDictionary(p => p, _ => new List<double>());
            for (var i = 0; i < samples; i++)
                foreach (var probe in results.Keys) results[probe].Add(probe.Sample());

            var table = new FigureTable("Figure 9a — matmul throughput per precision (each precision's machine limit)",
                                        "precision and shape", "product", "median GFLOP/s", "min–max GFLOP/s", "vs fp32 same shape");
            var limits = new Dictionary<ScalarType, double>();
            foreach (var probe in results.Keys)
            {
                var median = Stats.Median(results[probe]);
                var fp32Twin = probes.FirstOrDefault(p => p.DType == ScalarType.Float32 && p.M == probe.M && p.K == probe.K && p.N == probe.N);
                table.Add(probe.Label, probe.Shape, median, $"{FigureTable.Format(Stats.Min(results[probe]))}–{FigureTable.Format(Stats.Max(results[probe]))}",
                          fp32Twin is null ? "" : FigureTable.Ratio(median / Stats.Median(results[fp32Twin])));
                limits[probe.DType] = Math.Max(limits.GetValueOrDefault(probe.DType), median);
            }
            table.Notes.Add($"{samples} samples per shape (≈0.25 s each; fp16 one product per sample), shapes interleaved round robin; median reported.");
            table.Notes.Add($"Limit per precision = the best median: fp32 {FigureTable.Format(limits[ScalarType.Float32])}, bf16 {FigureTable.Format(limits[ScalarType.BFloat16])}, fp16 {FigureTable.Format(limits[ScalarType.Float16])} GFLOP/s.");
            table.Print(context.Out);
            return limits;
        }
        finally
        {
            foreach (var probe in probes) probe.Dispose();
            half.Dispose();
        }
    }

    /// <summary>Training steps of the ~50M model (~tiny in a smoke run) in fp32 and bf16, alternated ABBA, each after a probe of its own precision's limit.</summary>
    private static void StepSpeed(BenchContext context, Dictionary<ScalarType, double> limits)
    {
        var size = context.Smoke ? BenchModels.Tiny : BenchModels.FiftyM;
        var (batch, seq) = context.Smoke ? (2, 32) : (8, 256);
        var pairs = context.Smoke ? 2 : 8;
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var options = new TrainerOptions { Steps = 10_000, Batch = batch, Context = seq };
        using var fp32 = new PrecisionRun(size, Fp32, data, options, seq);
        using var bf16 = new PrecisionRun(size, Bf16, data, options, seq);
        context.Log($"precision: {size.Label} steps, {pairs} ABBA pairs");
        fp32.Step();   // warm-up: allocator, first touch of the optimizer state
        bf16.Step();
        for (var i = 0; i < pairs; i++)
        {
            if (i % 2 == 0)
            {
                fp32.Step();
                bf16.Step();
            }
            else
            {
                bf16.Step();
                fp32.Step();
            }
        }
        var ratios = fp32.Seconds.Zip(bf16.Seconds, (a, b) => a / b).ToList();
        var table = new FigureTable($"Figure 9b — training step, fp32 against bf16 ({size.Label}, batch {batch} × context {seq}, AdamW, clip 1.0)",
                                    "precision", "median step", "tokens/s", "achieved GFLOP/s", "own matmul limit GFLOP/s", "MFU (median)", "MFU min–max", "bf16 speed-up (median of pairs)", "speed-up min–max");
        foreach (var run in new[] { fp32, bf16 })
        {
            var median = Stats.Median(run.Seconds);
            table.Add(run.Target.Precision.Name(), $"{median:F3} s", options.TokensPerStep / median, run.FlopsPerToken * options.TokensPerStep / median / 1e9,
                      Stats.Median(run.Limits), FigureTable.Percent(Stats.Median(run.Mfu)), $"{FigureTable.Percent(Stats.Min(run.Mfu))}–{FigureTable.Percent(Stats.Max(run.Mfu))}",
                      run == fp32 ? FigureTable.Ratio(1) : FigureTable.Ratio(Stats.Median(ratios)),
                      run == fp32 ? "" : $"{FigureTable.Ratio(Stats.Min(ratios))}–{FigureTable.Ratio(Stats.Max(ratios))}");
        }
        table.Notes.Add($"{pairs} pairs in ABBA order after one warm-up step each; both models start from the same weights and train on the same batches; speed-up = fp32 step time / bf16 step time per pair.");
        table.Notes.Add("MFU = training FLOPs per token (ModelSize.TrainingFlopsPerToken) × tokens/s ÷ the precision's own matmul limit, probed right before each step (max of 1024³ and [batch·context × d]·[d × n_ffn] in that precision).");
        table.Notes.Add($"Figure 9a's limits in the same run: fp32 {FigureTable.Format(limits[ScalarType.Float32])}, bf16 {FigureTable.Format(limits[ScalarType.BFloat16])} GFLOP/s.");
        table.Print(context.Out);
        var speedup = Stats.Median(ratios);
        context.Verdicts.Add(new Verdict(Figure, $"bf16 / fp32 tokens/s at {size.Label}", FigureTable.Ratio(speedup), "≥ 1.7×", context.Smoke ? null : speedup >= 1.7));
    }

    /// <summary>The ~10M model (tiny in a smoke run) trained in both precisions from the same weights on the same batches, steps alternated.</summary>
    private static void LossAfterTraining(BenchContext context)
    {
        var size = context.Smoke ? BenchModels.Tiny : BenchModels.TenM;
        var (batch, seq) = context.Smoke ? (2, 32) : (8, 256);
        var steps = context.Smoke ? 4 : 200;
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var options = new TrainerOptions { Steps = steps, Batch = batch, Context = seq, EvalBatches = context.Smoke ? 2 : 16 };
        using var fp32 = new PrecisionRun(size, Fp32, data, options, seq, probeLimits: false);
        using var bf16 = new PrecisionRun(size, Bf16, data, options, seq, probeLimits: false);
        context.Log($"precision: {size.Label}, {steps} steps in each precision, alternated");
        for (var i = 0; i < steps; i++)
        {
            fp32.Step();
            bf16.Step();
        }
        var (fp32Loss, bf16Loss) = (fp32.Trainer.Evaluate(), bf16.Trainer.Evaluate());
        double bf16InFp32;
        using (var weightsOnly = BenchModels.Initialized(size))
        {
            HandWrittenFigure.CopyWeights(bf16.Model, weightsOnly);   // the bf16 run's float32 master weights, evaluated in fp32
            bf16InFp32 = Evaluation.Loss(weightsOnly, data, batch, seq, options.EvalBatches);
        }
        static double Smoothed(IReadOnlyList<double> losses, int end) => losses.Skip(Math.Max(0, end - 10)).Take(Math.Min(10, end)).Average();
        var window = Enumerable.Range(1, steps).Select(end => Math.Abs(Smoothed(bf16.Losses, end) / Smoothed(fp32.Losses, end) - 1)).ToList();
        var relative = bf16Loss / fp32Loss - 1;

        var table = new FigureTable($"Figure 9c — loss after {steps} steps, fp32 against bf16 ({size.Label}, batch {batch} × context {seq})",
                                    "precision", "training loss, mean of last 10 steps", "validation loss", "vs fp32", "median step", "tokens/s");
        table.Add("fp32", Smoothed(fp32.Losses, steps), fp32Loss, "", $"{Stats.Median(fp32.Seconds):F3} s", options.TokensPerStep / Stats.Median(fp32.Seconds));
        table.Add("bf16", Smoothed(bf16.Losses, steps), bf16Loss, $"{100 * relative:+0.00;-0.00}%", $"{Stats.Median(bf16.Seconds):F3} s", options.TokensPerStep / Stats.Median(bf16.Seconds));
        table.Add("bf16-trained weights evaluated in fp32", "", bf16InFp32, $"{100 * (bf16InFp32 / fp32Loss - 1):+0.00;-0.00}%", "", "");
        table.Notes.Add($"Same initial weights (seed 1), same batches, schedule warmup 1% + cosine over {steps} steps, lr 6e-4; steps of the two runs alternate, so load hits both alike.");
        table.Notes.Add($"Validation: {options.EvalBatches} held-out batches, each run evaluated in its own precision. Largest |bf16/fp32 − 1| of the 10-step mean training loss along the way: {FigureTable.Percent(window.Max())} (at step {window.IndexOf(window.Max()) + 1}); at the end {FigureTable.Percent(window[^1])}.");
        table.Print(context.Out);
        context.Verdicts.Add(new Verdict(Figure, $"bf16 loss after {steps} steps ({size.Label})", $"{100 * relative:+0.00;-0.00}% of fp32's", "within 2%", context.Smoke ? null : Math.Abs(relative) <= 0.02));
    }

    /// <summary>The example's default run trains TinyKjv's three stages at batch 16 × context 128: step times in both precisions, ABBA.</summary>
    private static void DefaultRunStages(BenchContext context)
    {
        var pairs = context.Smoke ? 2 : 12;
        var (batch, seq) = (16, 128);
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var options = new TrainerOptions { Steps = 10_000, Batch = batch, Context = seq };
        var table = new FigureTable($"Figure 9d — the default run's stages (TinyKjv, batch {batch} × context {seq}), fp32 against bf16",
                                    "stage", "parameters", "fp32 median step", "bf16 median step", "bf16 speed-up (median of pairs)", "speed-up min–max");
        foreach (var create in new Func<TokenformerModel>[] { () => new Examples.TinyKjvSmall(), () => new Examples.TinyKjvMedium(), () => new Examples.TinyKjvLarge() })
        {
            var size = new BenchModels.Size("TinyKjv", create);
            using var fp32 = new PrecisionRun(size, Fp32, data, options, seq, probeLimits: false);
            using var bf16 = new PrecisionRun(size, Bf16, data, options, seq, probeLimits: false);
            context.Log($"precision: TinyKjv/{fp32.Model.Stage.Name}, {pairs} ABBA pairs");
            var result = Timing.Alternate(() => fp32.Step(), () => bf16.Step(), pairs);
            var (lo, hi) = result.RatioRange;
            table.Add(fp32.Model.Stage.Name, fp32.Model.Stage.Parameters, $"{1e3 * result.BaselineMedian:F1} ms", $"{1e3 * result.CandidateMedian:F1} ms",
                      FigureTable.Ratio(1 / result.Ratio), $"{FigureTable.Ratio(1 / hi)}–{FigureTable.Ratio(1 / lo)}");
        }
        table.Notes.Add($"{pairs} pairs of training steps per stage in ABBA order after one warm-up step each (Trainer.Step: AdamW, clip 1.0); speed-up = fp32 time / bf16 time.");
        table.Print(context.Out);
    }

    private static string Label(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => dtype.ToString(),
    };

    /// <summary>One model in one precision with its trainer, recording each step's time, loss and (optionally) MFU.</summary>
    private sealed class PrecisionRun : IDisposable
    {
        private readonly MatmulProbe? _square;
        private readonly MatmulProbe? _own;

        public PrecisionRun(BenchModels.Size size, ComputeTarget target, Data.IBatchSource data, TrainerOptions options, int seq, bool probeLimits = true)
        {
            Target = target;
            Model = BenchModels.Initialized(size).Place(target);
            Trainer = new Trainer(Model, data, options);
            var stage = Model.Stage;
            var a = stage.Architecture;
            FlopsPerToken = stage.TrainingFlopsPerTokenAt(seq);
            if (!probeLimits) return;
            _square = new MatmulProbe("1024³", 1024, 1024, 1024, target.ComputeType);
            _own = new MatmulProbe("own FFN", (long)options.Batch * seq, a.Hidden, stage.Tokens.Ffn, target.ComputeType);
            _square.Calibrate(0.15);
            _own.Calibrate(0.15);
        }

        public ComputeTarget Target { get; }

        public TokenformerModel Model { get; }

        public Trainer Trainer { get; }

        public double FlopsPerToken { get; }

        public List<double> Seconds { get; } = [];

        public List<double> Losses { get; } = [];

        public List<double> Limits { get; } = [];

        public List<double> Mfu { get; } = [];

        public void Step()
        {
            var limit = _square is null ? double.NaN : Math.Max(_square.Sample(), _own!.Sample());
            StepMetrics metrics = null!;
            var seconds = Timing.Seconds(() => metrics = Trainer.Step());
            Seconds.Add(seconds);
            Losses.Add(metrics.Loss);
            Limits.Add(limit);
            Mfu.Add(FlopsPerToken * Trainer.Options.TokensPerStep / seconds / 1e9 / limit);
        }

        public void Dispose()
        {
            Trainer.Dispose();
            Model.Dispose();
            _square?.Dispose();
            _own?.Dispose();
        }
    }
}
