using System.Globalization;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Devices;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figures 9e and 9f (issue 17): bf16 against fp32 at the shapes users train — the released TokenFormer-150M and the
/// grown PaperProgressive/P354M, both with the 50,304-row tied table — at 1 × 128 and 4 × 512 tokens a step, on 1 and
/// 2 threads. 9e: training steps alternated ABBA on one model (its precision switched between steps, so both share the
/// weights, the optimizer state and the batches), with MFU against each precision's own matmul limit probed right
/// before each step. 9f: cached greedy decoding after a 128-token prompt, inference-only models in both precisions.
/// </summary>
internal static class ReleasedShapePrecision
{
    private const int Figure = 9;

    private sealed record Setting(BenchModels.Size Size, int Batch, int Context, int Threads)
    {
        public string Tokens => $"{Batch} × {Context}";
    }

    private sealed record TrainingResult(Setting Setting, long Parameters, double FlopsPerToken, Dictionary<Precision, List<double>> Seconds,
                                         Dictionary<Precision, List<double>> Limits, List<double> SpeedUps)
    {
        public double TokensPerStep => Setting.Batch * Setting.Context;

        public double Mfu(Precision p, int i) => FlopsPerToken * TokensPerStep / Seconds[p][i] / 1e9 / Limits[p][i];

        public List<double> Mfus(Precision p) => Enumerable.Range(0, Seconds[p].Count).Select(i => Mfu(p, i)).ToList();
    }

    private sealed record DecodeResult(Setting Setting, Dictionary<Precision, List<double>> PrefillSeconds, Dictionary<Precision, List<double>> DecodeSeconds,
                                       int PromptTokens, int NewTokens)
    {
        public List<double> SpeedUps => DecodeSeconds[Precision.Fp32].Zip(DecodeSeconds[Precision.Bf16], (a, b) => a / b).ToList();
    }

    /// <summary>Measures <paramref name="shapes"/> (all released shapes, or the one of <c>--shape</c> when <paramref name="brief"/>).</summary>
    public static void Run(BenchContext context, IReadOnlyList<BenchModels.Size> shapes, bool brief)
    {
        var previousThreads = get_num_threads();
        var shapesToRun = context.Smoke ? [BenchModels.Tiny] : shapes;
        var tokenSettings = context.Smoke ? new[] { (1, 16), (2, 32) } : new[] { (1, 128), (4, 512) };
        var threads = new[] { 1, 2 };
        var settings = (from size in shapesToRun from t in tokenSettings from n in threads select new Setting(size, t.Item1, t.Item2, n)).ToList();
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var training = new List<TrainingResult>();
        var decoding = new List<DecodeResult>();
        try
        {
            foreach (var setting in settings) training.Add(Train(context, setting, data, brief));
            foreach (var size in shapesToRun)
                foreach (var n in threads)
                    decoding.Add(Decode(context, new Setting(size, 1, context.Smoke ? 8 : 128, n), brief));
        }
        finally
        {
            set_num_threads(previousThreads);
        }
        PrintTraining(context, training, brief);
        PrintDecoding(context, decoding);
        Judge(context, training, decoding);
        if (brief) PrintRatioLine(context, training, decoding);
    }

    private static TrainingResult Train(BenchContext context, Setting setting, Data.IBatchSource data, bool brief)
    {
        set_num_threads(setting.Threads);
        var pairs = context.Smoke ? 2 : brief ? 2 : setting.Batch * setting.Context >= 2048 ? 3 : 4;
        context.Log($"precision at released shapes: {setting.Size.Label} training, {setting.Tokens} tokens, {setting.Threads} thread(s), {pairs} ABBA pairs");
        using var model = BenchModels.Initialized(setting.Size);
        var stage = model.Stage;
        var options = new TrainerOptions { Steps = 10_000, Batch = setting.Batch, Context = setting.Context };
        using var trainer = new Trainer(model, data, options);
        var targets = new Dictionary<Precision, ComputeTarget> { [Precision.Fp32] = new(CPU, Precision.Fp32), [Precision.Bf16] = new(CPU, Precision.Bf16) };
        var probes = targets.ToDictionary(t => t.Key, t => new[]
        {
            new MatmulProbe("1024³", 1024, 1024, 1024, t.Value.ComputeType),
            new MatmulProbe("own FFN", (long)setting.Batch * setting.Context, stage.Architecture.Hidden, stage.Tokens.Ffn, t.Value.ComputeType),
        });
        try
        {
            foreach (var probe in probes.Values.SelectMany(p => p)) probe.Calibrate(context.Smoke ? 0.01 : 0.15);
            var seconds = targets.Keys.ToDictionary(p => p, _ => new List<double>());
            var limits = targets.Keys.ToDictionary(p => p, _ => new List<double>());
            void Step(Precision precision, bool record)
            {
                model.Place(targets[precision]);   // same device: the parameters stay, only the compute precision changes
                var limit = probes[precision].Max(p => p.Sample());
                var time = Timing.Seconds(() => trainer.Step());
                if (!record) return;
                seconds[precision].Add(time);
                limits[precision].Add(limit);
            }
            for (var i = 0; i < (context.Smoke ? 1 : 2); i++)   // warm-up: the heap grows to the step's working set
            {
                Step(Precision.Fp32, record: false);
                Step(Precision.Bf16, record: false);
            }
            for (var i = 0; i < pairs; i++)
            {
                var order = i % 2 == 0 ? new[] { Precision.Fp32, Precision.Bf16 } : [Precision.Bf16, Precision.Fp32];
                foreach (var precision in order) Step(precision, record: true);
            }
            var speedUps = seconds[Precision.Fp32].Zip(seconds[Precision.Bf16], (a, b) => a / b).ToList();
            return new TrainingResult(setting, stage.Parameters, stage.TrainingFlopsPerTokenAt(setting.Context), seconds, limits, speedUps);
        }
        finally
        {
            foreach (var probe in probes.Values.SelectMany(p => p)) probe.Dispose();
        }
    }

    private static DecodeResult Decode(BenchContext context, Setting setting, bool brief)
    {
        set_num_threads(setting.Threads);
        var (newTokens, pairs) = context.Smoke ? (4, 1) : (64, brief ? 2 : 3);
        context.Log($"precision at released shapes: {setting.Size.Label} decoding, {setting.Context}-token prompt + {newTokens} tokens, {setting.Threads} thread(s), {pairs} ABBA pairs");
        var models = new Dictionary<Precision, TokenformerModel>();
        try
        {
            foreach (var precision in new[] { Precision.Fp32, Precision.Bf16 })
            {
                var model = BenchModels.Initialized(setting.Size).Place(new ComputeTarget(CPU, precision)).PrepareForInference();
                model.eval();
                models[precision] = model;
            }
            var vocabulary = models[Precision.Fp32].Stage.Architecture.Vocabulary;
            var prompt = BenchModels.Prompt(vocabulary, setting.Context);
            var prefill = models.Keys.ToDictionary(p => p, _ => new List<double>());
            var decode = models.Keys.ToDictionary(p => p, _ => new List<double>());
            void Once(Precision precision, bool record)
            {
                var model = models[precision];
                using var _ = no_grad();
                using var cache = model.CreateCache();
                Tensor logits = null!;
                var first = Timing.Seconds(() =>
                {
                    using var ids = tensor(prompt).unsqueeze(0);
                    logits = model.call(ids, cache);
                });
                var rest = Timing.Seconds(() =>
                {
                    for (var i = 0; i < newTokens; i++)
                    {
                        long next;
                        using (NewDisposeScope()) next = logits[0, -1].argmax().item<long>();   // greedy, as generate --temperature 0
                        var previous = logits;
                        using (var ids = tensor(new[] { next }).unsqueeze(0)) logits = model.call(ids, cache);
                        previous.Dispose();
                    }
                });
                logits.Dispose();
                if (!record) return;
                prefill[precision].Add(first);
                decode[precision].Add(rest);
            }
            Once(Precision.Fp32, record: false);
            Once(Precision.Bf16, record: false);
            for (var i = 0; i < pairs; i++)
            {
                var order = i % 2 == 0 ? new[] { Precision.Fp32, Precision.Bf16 } : [Precision.Bf16, Precision.Fp32];
                foreach (var precision in order) Once(precision, record: true);
            }
            return new DecodeResult(setting, prefill, decode, setting.Context, newTokens);
        }
        finally
        {
            foreach (var model in models.Values) model.Dispose();
        }
    }

    private static void PrintTraining(BenchContext context, List<TrainingResult> results, bool brief)
    {
        var table = new FigureTable("Figure 9e — training step at the released shapes, fp32 against bf16 (AdamW, clip 1.0)",
                                    "shape", "tokens a step", "threads", "precision", "median step", "tokens/s", "achieved GFLOP/s", "own matmul limit GFLOP/s",
                                    "MFU (median)", "MFU min–max", "bf16 speed-up (median of pairs)", "speed-up min–max");
        foreach (var r in results)
        {
            foreach (var precision in new[] { Precision.Fp32, Precision.Bf16 })
            {
                var median = Stats.Median(r.Seconds[precision]);
                var mfu = r.Mfus(precision);
                var first = precision == Precision.Fp32;
                table.Add(first ? r.Setting.Size.Label : "", first ? r.Setting.Tokens : "", first ? r.Setting.Threads : "", precision.Name(), $"{median:F3} s",
                          r.TokensPerStep / median, r.FlopsPerToken * r.TokensPerStep / median / 1e9, Stats.Median(r.Limits[precision]),
                          FigureTable.Percent(Stats.Median(mfu)), $"{FigureTable.Percent(Stats.Min(mfu))}–{FigureTable.Percent(Stats.Max(mfu))}",
                          first ? "" : FigureTable.Ratio(Stats.Median(r.SpeedUps)), first ? "" : $"{FigureTable.Ratio(Stats.Min(r.SpeedUps))}–{FigureTable.Ratio(Stats.Max(r.SpeedUps))}");
            }
        }
        var pairs = results.Select(r => r.SpeedUps.Count).Distinct().Order();
        table.Notes.Add($"{string.Join(" or ", pairs)} pairs per setting in ABBA order after {(context.Smoke ? "one warm-up step" : "two warm-up steps")} of each precision; one model per setting whose precision is switched between steps (Place on the same device keeps the parameters), so both precisions train the same weights on the same stream of batches.");
        table.Notes.Add("MFU = training FLOPs per token (ModelSize.TrainingFlopsPerToken at the step's context) × tokens/s ÷ that precision's own matmul limit, the larger of [1024³] and [tokens × d]·[d × n_ffn] in that precision, probed right before each step.");
        table.Notes.Add("The parameters, gradients and AdamW state are float32 in both precisions; bf16 multiplies in bfloat16 (docs: README, Devices and precision).");
        if (brief) table.Notes.Add("A --shape run: fewer pairs than the recorded figure.");
        table.Print(context.Out);
    }

    private static void PrintDecoding(BenchContext context, List<DecodeResult> results)
    {
        var table = new FigureTable("Figure 9f — cached greedy decoding at the released shapes, fp32 against bf16 (inference-only models, batch 1)",
                                    "shape", "threads", "prompt", "fp32 prefill tokens/s", "bf16 prefill tokens/s", "fp32 decode tokens/s", "bf16 decode tokens/s",
                                    "bf16 decode speed-up (median of pairs)", "speed-up min–max");
        foreach (var r in results)
        {
            double Rate(Dictionary<Precision, List<double>> seconds, Precision p, int tokens) => tokens / Stats.Median(seconds[p]);
            table.Add(r.Setting.Size.Label, r.Setting.Threads, r.PromptTokens,
                      Rate(r.PrefillSeconds, Precision.Fp32, r.PromptTokens), Rate(r.PrefillSeconds, Precision.Bf16, r.PromptTokens),
                      Rate(r.DecodeSeconds, Precision.Fp32, r.NewTokens), Rate(r.DecodeSeconds, Precision.Bf16, r.NewTokens),
                      FigureTable.Ratio(Stats.Median(r.SpeedUps)), $"{FigureTable.Ratio(Stats.Min(r.SpeedUps))}–{FigureTable.Ratio(Stats.Max(r.SpeedUps))}");
        }
        table.Notes.Add($"Each sample: a {results.FirstOrDefault()?.PromptTokens}-token prompt through an empty KV cache (prefill), then {results.FirstOrDefault()?.NewTokens} tokens decoded one at a time, greedy; pairs in ABBA order after one warm-up each.");
        table.Notes.Add("Both models are loaded as eval, generate and logits load them (PrepareForInference): in bf16 every Pattention's tokens are converted once and the head keeps a bfloat16 copy of the table; the lookup reads the float32 table.");
        table.Print(context.Out);
    }

    private static void Judge(BenchContext context, List<TrainingResult> training, List<DecodeResult> decoding)
    {
        if (context.Smoke) return;
        foreach (var size in training.Select(r => r.Setting.Size).Distinct())
        {
            var large = training.Where(r => r.Setting.Size == size && r.TokensPerStep >= 2048).ToList();
            var small = training.Where(r => r.Setting.Size == size && r.TokensPerStep < 2048).ToList();
            var oneThread = large.FirstOrDefault(r => r.Setting.Threads == 1);
            if (size == BenchModels.Released150M && oneThread is not null)
            {
                var speedUp = Stats.Median(oneThread.SpeedUps);
                context.Verdicts.Add(new Verdict(Figure, $"bf16 / fp32 tokens/s, {size.Label}, {oneThread.Setting.Tokens}, 1 thread", FigureTable.Ratio(speedUp), "≥ 1.7×", speedUp >= 1.7));
                var mfu = Stats.Median(oneThread.Mfus(Precision.Fp32));
                context.Verdicts.Add(new Verdict(Figure, $"fp32 MFU, {size.Label}, {oneThread.Setting.Tokens}, 1 thread", FigureTable.Percent(mfu), "≥ 60%", mfu >= 0.6));
            }
            if (small.Count > 0)
            {
                var worst = small.Min(r => Stats.Min(r.SpeedUps));
                context.Verdicts.Add(new Verdict(Figure, $"bf16 / fp32 tokens/s, {size.Label}, {small[0].Setting.Tokens}, slowest pair of 1 and 2 threads", FigureTable.Ratio(worst), "≥ 1× (never slower)",
                                                 size == BenchModels.Released150M ? worst >= 1 : null));
            }
        }
        foreach (var r in decoding.Where(r => r.Setting.Size == BenchModels.Released150M))
        {
            var speedUp = Stats.Median(r.SpeedUps);
            context.Verdicts.Add(new Verdict(Figure, $"bf16 / fp32 cached decoding, {r.Setting.Size.Label}, {r.Setting.Threads} thread(s)", FigureTable.Ratio(speedUp), "≥ 1×", speedUp >= 1));
        }
    }

    // The --shape line: every bf16 / fp32 ratio of the run on one line.
    private static void PrintRatioLine(BenchContext context, List<TrainingResult> training, List<DecodeResult> decoding)
    {
        var parts = training.Select(r => $"train {r.Setting.Tokens} {r.Setting.Threads}t {FigureTable.Ratio(Stats.Median(r.SpeedUps))} (fp32 MFU {FigureTable.Percent(Stats.Median(r.Mfus(Precision.Fp32)))})")
                            .Concat(decoding.Select(r => $"decode {r.Setting.Threads}t {FigureTable.Ratio(Stats.Median(r.SpeedUps))}"));
        context.Out.WriteLine();
        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bf16 / fp32 at {training[0].Setting.Size.Label}: {string.Join("; ", parts)}"));
    }
}
