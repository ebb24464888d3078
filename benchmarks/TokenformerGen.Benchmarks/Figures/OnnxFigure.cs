using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Checkpoints;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Inference;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 10 (issue 15): the same fp32 weights decoded by TorchSharp (the runtime's model) and by ONNX Runtime (the
/// model's export, run by TokenformerGen.OnnxRuntime) — TinyKjv/Large and the released TokenFormer-150M shape, batch 1,
/// a prompt through an empty KV cache and then greedy steps of one token, at 1 and 2 threads, alternated ABBA — and what
/// each engine needs on disk at run time.
/// </summary>
internal sealed class OnnxFigure : IFigure
{
    private static readonly SamplingOptions Greedy = new(Temperature: 0);

    private static readonly int[] Threads = [1, 2];

    public int Number => 10;

    public string Name => "onnx";

    // A model and how it is decoded: Prompt tokens through an empty cache, then Steps calls of one token each.
    private sealed record Setting(BenchModels.Size Size, int Prompt, int Steps, int Pairs);

    // Seconds of one sample's prefill and of its decoding steps.
    private sealed record Sample(double Prefill, double Decode);

    private sealed record Result(Setting Setting, int Threads, List<Sample> Torch, List<Sample> Onnx)
    {
        public Paired Prefill => Rates(s => Setting.Prompt / s.Prefill);

        public Paired Decode => Rates(s => Setting.Steps / s.Decode);

        // Tokens/s of each pair, TorchSharp the baseline: Ratio is ONNX Runtime's tokens/s ÷ TorchSharp's.
        private Paired Rates(Func<Sample, double> rate) => new([.. Torch.Select(rate)], [.. Onnx.Select(rate)]);
    }

    // How far the engines agree on one model: the greedy tokens of both generates, and the prompt's last-position logits.
    private sealed record Agreement(int Tokens, bool SameTokens, int Distinct, double LogitDifference, double LargestLogit);

    // One model: the engines' agreement on it, and its files (checkpoint for TorchSharp, export folder for ONNX Runtime).
    private sealed record ModelCheck(string Label, Agreement Agreement, long CheckpointBytes, long ExportBytes);

    // An engine as an app ships it: the library it references and the model files it reads.
    private sealed record Engine(string Name, string Library, Func<ModelCheck, long> ModelBytes)
    {
        public IReadOnlyList<FileInfo> Files { get; } = RuntimeFiles.Of(Library);
    }

    public void Run(BenchContext context)
    {
        var tinyKjv = new BenchModels.Size("TinyKjv/Large", () => new Examples.TinyKjvLarge());
        Setting[] settings = context.Smoke
            ? [new(tinyKjv, Prompt: 8, Steps: 4, Pairs: 1)]
            : [new(tinyKjv, Prompt: 64, Steps: 64, Pairs: 101), new(BenchModels.Released150M, Prompt: 128, Steps: 64, Pairs: 41)];
        var previousThreads = get_num_threads();
        var results = new List<Result>();
        var checks = new List<ModelCheck>();
        try
        {
            foreach (var setting in settings) checks.Add(Measure(context, setting, results));
        }
        finally
        {
            set_num_threads(previousThreads);
        }
        PrintSpeed(context, results, checks);
        PrintSizes(context, checks);
        if (context.Smoke) return;
        foreach (var r in results.Where(r => r.Threads == 1))
        {
            var decode = r.Decode;
            var twoThreads = results.Single(o => o.Setting == r.Setting && o.Threads == 2).Decode.Ratio;
            context.Verdicts.Add(new Verdict(Number, $"ONNX Runtime / TorchSharp cached decoding, {r.Setting.Size.Label}, 1 thread",
                                             $"{FigureTable.Ratio(decode.Ratio)} ({Range(decode)}); 2 threads {FigureTable.Ratio(twoThreads)}",
                                             "≥ 1.0×", decode.Ratio >= 1));
        }
    }

    // Exports and saves one model, checks that both engines agree on it, then times both at each thread count.
    private static ModelCheck Measure(BenchContext context, Setting setting, List<Result> results)
    {
        var label = setting.Size.Label;
        using var model = BenchModels.Initialized(setting.Size);
        var stage = model.Stage;
        var export = Path.Combine(context.WorkDirectory, $"{stage.Family}.{stage.Name}.onnx");
        var checkpoint = Path.Combine(context.WorkDirectory, $"{stage.Family}.{stage.Name}.safetensors");
        context.Log($"onnx: {label}, exporting to ONNX and saving the checkpoint");
        OnnxExport.Write(model, export);
        Checkpoint.Save(checkpoint, model, new CheckpointMetadata(stage.Family, stage.Name, stage.SpecHash, 0));
        model.PrepareForInference();   // as generate loads a model
        model.eval();
        var prompt = BenchModels.Prompt(stage.Architecture.Vocabulary, setting.Prompt);
        Agreement? agreement = null;
        foreach (var threads in Threads)
        {
            set_num_threads(threads);
            using var onnx = OnnxTokenformer.Load(export, threads);
            agreement ??= Compare(model, onnx, prompt, setting.Steps);
            context.Log($"onnx: {label}, {setting.Prompt}-token prompt + {setting.Steps} steps, {threads} thread(s), {setting.Pairs} ABBA pairs");
            var torch = new List<Sample>();
            var ort = new List<Sample>();
            Timing.Alternate(() => torch.Add(Decode(new TorchSequence(model), prompt, setting.Steps)),
                             () => ort.Add(Decode(new OrtSequence(onnx), prompt, setting.Steps)),
                             setting.Pairs);
            results.Add(new Result(setting, threads, torch[1..], ort[1..]));   // the first of each is Alternate's warm-up
        }
        var exportBytes = new DirectoryInfo(export).EnumerateFiles().Sum(f => f.Length);
        return new ModelCheck(label, agreement!, new FileInfo(checkpoint).Length, exportBytes);
    }

    private static Agreement Compare(TokenformerModel model, OnnxTokenformer onnx, long[] prompt, int steps)
    {
        var torchTokens = TextSampler.Generate(model, prompt, steps, Greedy);
        var onnxTokens = onnx.Generate(prompt, steps, Greedy);
        using var torch = new TorchSequence(model);
        using var ort = new OrtSequence(onnx);
        var expected = torch.Next(prompt);
        var actual = ort.Next(prompt);
        return new Agreement(steps, torchTokens.SequenceEqual(onnxTokens), torchTokens.Distinct().Count(),
                             expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max(), expected.Max(Math.Abs));
    }

    // One sample on a fresh cache: the prompt (prefill), then each step feeds the token picked from the last logits.
    private static Sample Decode(ISequence sequence, long[] prompt, int steps)
    {
        using (sequence)
        {
            var picker = new TokenPicker(Greedy);
            float[] logits = [];
            var prefill = Timing.Seconds(() => logits = sequence.Next(prompt));
            var decode = Timing.Seconds(() =>
            {
                for (var i = 0; i < steps; i++) logits = sequence.Next([picker.Pick(logits)]);
            });
            return new Sample(prefill, decode);
        }
    }

    // One sequence with its KV cache: runs ids after the cached positions and returns the last position's logits.
    private interface ISequence : IDisposable
    {
        float[] Next(long[] ids);
    }

    // The step TextSampler's generate takes.
    private sealed class TorchSequence(TokenformerModel model) : ISequence
    {
        private readonly KvCache _cache = model.CreateCache();

        public float[] Next(long[] ids)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var logits = model.call(tensor(ids).unsqueeze(0), _cache);
            return logits[0, -1].data<float>().ToArray();
        }

        public void Dispose() => _cache.Dispose();
    }

    // The step OnnxTokenformer's generate takes.
    private sealed class OrtSequence(OnnxTokenformer model) : ISequence
    {
        private readonly OrtKvCache _cache = model.CreateCache();

        public float[] Next(long[] ids) => model.Run(ids, _cache, lastPositionOnly: true);

        public void Dispose() => _cache.Dispose();
    }

    private static void PrintSpeed(BenchContext context, List<Result> results, List<ModelCheck> checks)
    {
        var table = new FigureTable("Figure 10 — cached greedy decoding, TorchSharp against ONNX Runtime (the same fp32 weights, batch 1)",
                                    "model", "threads", "prompt + steps", "TorchSharp prefill tokens/s", "ORT prefill tokens/s", "ORT ÷ TorchSharp prefill (median of pairs)", "prefill min–max",
                                    "TorchSharp decode tokens/s", "ORT decode tokens/s", "ORT ÷ TorchSharp decode (median of pairs)", "decode min–max");
        foreach (var r in results)
        {
            var (prefill, decode) = (r.Prefill, r.Decode);
            table.Add(r.Setting.Size.Label, r.Threads, $"{r.Setting.Prompt} + {r.Setting.Steps}",
                      prefill.BaselineMedian, prefill.CandidateMedian, FigureTable.Ratio(prefill.Ratio), Range(prefill),
                      decode.BaselineMedian, decode.CandidateMedian, FigureTable.Ratio(decode.Ratio), Range(decode));
        }
        table.Notes.Add("Each sample starts a fresh KV cache: prefill = one call on the prompt; decode = the steps, each one call on the token picked greedily (TokenPicker, as both engines' generate) "
                        + "from the previous call's logits; tokens/s = prompt tokens ÷ prefill seconds and steps ÷ decode seconds. A call returns the last position's logits as a float[]: "
                        + "TorchSharp model.call with a KvCache under no_grad in a dispose scope (TextSampler's step), ONNX Runtime OnnxTokenformer.Run(lastPositionOnly: true) on an OrtKvCache.");
        table.Notes.Add($"{string.Join(" and ", results.Select(r => r.Setting.Pairs).Distinct())} pairs per row in ABBA order (TorchSharp first) after one warm-up sample of each; "
                        + "the ratio is the median over pairs of ORT tokens/s ÷ TorchSharp tokens/s.");
        table.Notes.Add("Threads: torch.set_num_threads(n) for TorchSharp, OnnxTokenformer.Load(folder, threads: n) for ONNX Runtime (intra-op threads, sequential execution, all graph optimisations); --threads does not apply.");
        table.Notes.Add("Weights: InitializeFromScratch(1), float32; exported once per model with OnnxExport.Write (opset 17, weights inline), then the TorchSharp model is prepared for inference as generate loads it.");
        foreach (var (label, a, _, _) in checks)
            table.Notes.Add($"{label}: TextSampler.Generate and OnnxTokenformer.Generate gave {(a.SameTokens ? "the same" : "**different**")} {a.Tokens} greedy tokens at 1 thread ({a.Distinct} distinct{(a.Distinct == 1 ? ": at initialisation greedy decoding repeats one token" : "")}); "
                            + $"the prompt's last-position logits differ by at most {a.LogitDifference:G3} (largest |logit| {a.LargestLogit:G3}).");
        table.Notes.Add($"Load average at the end of the figure (1/5/15 min): {Machine.LoadAverage()}.");
        table.Print(context.Out);
    }

    private static void PrintSizes(BenchContext context, List<ModelCheck> checks)
    {
        Engine[] engines = [new("TorchSharp", "TokenformerGen", c => c.CheckpointBytes), new("ONNX Runtime", "TokenformerGen.OnnxRuntime", c => c.ExportBytes)];
        static bool Managed(FileInfo f) => f.Extension == ".dll";
        static double Mb(IEnumerable<long> bytes) => bytes.Sum() / (double)(1 << 20);
        var table = new FigureTable("Figure 10b — what each engine needs on disk at run time (MB)",
                                    "engine", "model", "native libraries", "managed assemblies", "model files", "total");
        foreach (var c in checks)
        {
            foreach (var e in engines)
            {
                var native = e.Files.Where(f => !Managed(f)).Select(f => f.Length).ToList();
                var managed = e.Files.Where(Managed).Select(f => f.Length).ToList();
                table.Add(e.Name, c.Label, Mb(native), Mb(managed), Mb([e.ModelBytes(c)]), Mb([.. native, .. managed, e.ModelBytes(c)]));
            }
        }
        foreach (var e in engines)
        {
            string Names(Func<FileInfo, bool> which) => string.Join(", ", e.Files.Where(which).Select(f => f.Name).Order(StringComparer.Ordinal));
            table.Notes.Add($"{e.Name}: every file this program's deps.json lists for {e.Library} and its dependencies, transitively, portable or linux-x64 (what a published linux-x64 app carries for it) — "
                            + $"native: {Names(f => !Managed(f))}; managed: {Names(Managed)}.");
        }
        table.Notes.Add("Model files: TorchSharp the checkpoint Checkpoint.Save writes (one .safetensors, float32); ONNX Runtime the export folder (model.onnx with the weights inline, the model card). MB = 2²⁰ bytes.");
        table.Print(context.Out);
    }

    private static string Range(Paired paired)
    {
        var (lo, hi) = paired.RatioRange;
        return $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}";
    }
}
