using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Checkpoints;
using TokenformerGen.Data;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Text.Inference;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 10c (issue 26): quantized ONNX exports against fp32 in one run — test-split loss of trained checkpoints
/// (TinyKjv Large, Kjv8M Large) per precision; cached decoding and prefill of the 150M and P354M shapes at 1 and 2
/// threads against fp32 and against the memory-bandwidth ceiling measured here; decoding at 1,024 tokens of context
/// against 128 (also alone: <see cref="OnnxContextFigure"/>); and load time and peak memory of weights inline against
/// beside the graph.
/// </summary>
internal sealed class QuantizedOnnxFigure : IFigure
{
    private static readonly OnnxPrecision[] Precisions = [OnnxPrecision.Fp32, OnnxPrecision.Int8, OnnxPrecision.Int4];

    private static readonly int[] Threads = [1, 2];

    private const int FigureNumber = 10;

    public int Number => FigureNumber;

    public string Name => "onnx-quant";

    // Checkpoints whose test loss the figure measures: TFG_QUANT_CHECKPOINTS="a.safetensors;b.safetensors".
    private const string CheckpointsVariable = "TFG_QUANT_CHECKPOINTS";

    public void Run(BenchContext context)
    {
        context.Out.WriteLine($"CPU: {Machine.CpuModel()}; {Environment.ProcessorCount} logical cores; load average {Machine.LoadAverage()}.");
        var bandwidth = Threads.ToDictionary(t => t, t => Bandwidth(t, context.Smoke));
        Quality(context);
        Speed(context, bandwidth);
        Context(context);
        Loading(context);
    }

    // --- Quality: test-split loss of each precision, run by ONNX Runtime, against TorchSharp's fp32.

    private static void Quality(BenchContext context)
    {
        var paths = (Environment.GetEnvironmentVariable(CheckpointsVariable) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries);
        var table = new FigureTable("Figure 10c (quality) — test-split loss of trained checkpoints by weight precision, ONNX Runtime",
                                    "checkpoint", "step", "TorchSharp fp32 loss", "precision", "ORT loss (nats/token)", "bits/byte", "Δ loss vs ORT fp32", "weights MB");
        if (paths.Length == 0) context.Log($"onnx-quant: no checkpoints in {CheckpointsVariable}; quality skipped");
        foreach (var path in paths)
        {
            var metadata = Checkpoint.ReadMetadata(path);
            var registration = ModelRegistry.Families.Single(f => f.Name == metadata.Family).Stages.Single(s => s.Info.Name == metadata.Stage);
            var info = registration.Info;
            using var model = registration.Create();
            Checkpoint.Load(path, model, metadata.Family, metadata.Stage);
            model.eval();
            using var corpus = BenchModels.OpenCorpus();
            var data = BenchModels.Batches(corpus);
            var contextLength = (int)info.Architecture.Context;
            const int batch = 8;
            var maxBatches = context.Smoke ? 2 : 60;
            var torchLoss = Evaluation.Loss(model, data, batch, contextLength, maxBatches, DataSplit.Test);
            double? fp32 = null;
            foreach (var precision in Precisions)
            {
                var folder = Path.Combine(context.WorkDirectory, $"quality-{metadata.Family}-{OnnxQuantizer.NameOf(precision)}");
                var result = OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision });
                using var onnx = OnnxTokenformer.Load(folder, threads: 1);
                var loss = OrtLoss(onnx, data, batch, contextLength, maxBatches);
                fp32 ??= loss;
                table.Add($"{info.QualifiedName} ({Path.GetFileName(path)})", metadata.Step, torchLoss.ToString("F4", CultureInfo.InvariantCulture), OnnxQuantizer.NameOf(precision),
                          loss.ToString("F4", CultureInfo.InvariantCulture), Evaluation.BitsPerByte(loss, data.TokensPerByte ?? double.NaN).ToString("F4", CultureInfo.InvariantCulture),
                          SignedPercent((loss / fp32.Value) - 1), result.WeightBytes / (double)(1 << 20));
                if (precision != OnnxPrecision.Fp32)
                {
                    var limit = precision == OnnxPrecision.Int8 ? 0.002 : 0.01;
                    context.Verdicts.Add(new Verdict(FigureNumber, $"{OnnxQuantizer.NameOf(precision)} test loss vs fp32, {info.QualifiedName}",
                                                     SignedPercent((loss / fp32.Value) - 1), $"≤ {SignedPercent(limit)}", loss / fp32.Value - 1 <= limit));
                }
            }
        }
        table.Notes.Add($"Test split (DataSplit.Test) of the KJV corpus, byte-tokenized, in windows of the family's context, batches of 8, at most {(context.Smoke ? 2 : 60)} batches; "
                        + "ORT loss = mean cross-entropy of the export's logits (OnnxTokenformer.Run on an empty cache, 1 thread, all optimisations), computed in float64; bits/byte = loss × held-out tokens per byte / ln 2.");
        table.Notes.Add("Δ loss is relative to the same checkpoint's fp32 export in ONNX Runtime; int8 per-channel symmetric, int4 block 32 symmetric (MatMulNBits accuracy level 4).");
        table.Print(context.Out);
    }

    // A small relative change, e.g. +0.265% (FigureTable.Percent keeps one decimal, too few against a 0.2% target).
    private static string SignedPercent(double share) => (100 * share).ToString("+0.000;−0.000", CultureInfo.InvariantCulture) + "%";

    private static double OrtLoss(OnnxTokenformer onnx, IBatchSource data, int batch, int context, int maxBatches)
    {
        double total = 0;
        long count = 0;
        var vocabulary = (int)onnx.Card.PaddedVocabulary;
        foreach (var tokens in data.HeldOutBatches(DataSplit.Test, batch, context, maxBatches))
        {
            using var owned = tokens;
            var inputs = tokens.Inputs.data<long>().ToArray();
            var targets = tokens.Targets.data<long>().ToArray();
            using var cache = onnx.CreateCache((int)tokens.Inputs.shape[0]);
            var logits = onnx.Run(inputs, cache);
            for (var i = 0; i < targets.Length; i++)
            {
                var row = logits.AsSpan(i * vocabulary, vocabulary);
                double max = double.NegativeInfinity;
                foreach (var v in row) max = Math.Max(max, v);
                double sum = 0;
                foreach (var v in row) sum += Math.Exp(v - max);
                total += max + Math.Log(sum) - row[(int)targets[i]];
            }
            count += targets.Length;
        }
        return total / count;
    }

    // --- Speed: prefill and cached decoding per precision, rounds alternating the precisions.

    private sealed record SpeedRow(string Model, int Threads, OnnxPrecision Precision, double Prefill, double Decode, double DecodeRatio, double RatioMin, double RatioMax,
                                   double PrefillRatio, long ModelBytes, double BytesPerToken, double Ceiling);

    private static void Speed(BenchContext context, Dictionary<int, double> bandwidth)
    {
        BenchModels.Size[] sizes = context.Smoke ? [new("TinyKjv/Large", () => new Examples.TinyKjvLarge())] : [BenchModels.Released150M, BenchModels.P354M];
        var (promptLength, steps, rounds) = context.Smoke ? (8, 4, 2) : (128, 32, 9);
        var rows = new List<SpeedRow>();
        foreach (var size in sizes)
        {
            var folders = new Dictionary<OnnxPrecision, string>();
            long kvBytesPerPosition;
            long vocabulary;
            using (var model = BenchModels.Initialized(size))
            {
                var a = model.Stage.Architecture;
                kvBytesPerPosition = 2 * a.Layers * a.Heads * a.HeadDim * sizeof(float);
                vocabulary = a.Vocabulary;
                foreach (var precision in Precisions)
                {
                    var folder = Path.Combine(context.WorkDirectory, $"speed-{model.Stage.Family}-{model.Stage.Name}-{OnnxQuantizer.NameOf(precision)}");
                    context.Log($"onnx-quant: exporting {size.Label} {OnnxQuantizer.NameOf(precision)}");
                    OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision });
                    folders[precision] = folder;
                }
            }
            var prompt = BenchModels.Prompt(vocabulary, promptLength);
            foreach (var threads in Threads)
            {
                context.Log($"onnx-quant: {size.Label}, {threads} thread(s), {rounds} rounds of {promptLength} + {steps}");
                var sessions = Precisions.ToDictionary(p => p, p => OnnxTokenformer.Load(folders[p], threads));
                try
                {
                    var samples = Precisions.ToDictionary(p => p, _ => new List<(double Prefill, double Decode)>());
                    for (var round = -1; round < rounds; round++)   // round −1 warms every session up
                    {
                        for (var i = 0; i < Precisions.Length; i++)
                        {
                            var precision = Precisions[(i + Math.Max(round, 0)) % Precisions.Length];   // each precision first in turn
                            var sample = Decode(sessions[precision], prompt, steps);
                            if (round >= 0) samples[precision].Add(sample);
                        }
                    }
                    foreach (var precision in Precisions)
                    {
                        var s = samples[precision];
                        var f = samples[OnnxPrecision.Fp32];
                        var ratios = s.Zip(f, (q, b) => b.Decode / q.Decode).ToList();
                        var prefillRatios = s.Zip(f, (q, b) => b.Prefill / q.Prefill).ToList();
                        var modelBytes = new DirectoryInfo(folders[precision]).EnumerateFiles("model.onnx*").Sum(x => x.Length);
                        var bytesPerToken = modelBytes + (kvBytesPerPosition * (promptLength + (steps / 2.0)));
                        rows.Add(new SpeedRow(size.Label, threads, precision, promptLength / Stats.Median(s.Select(x => x.Prefill).ToList()), steps / Stats.Median(s.Select(x => x.Decode).ToList()),
                                              Stats.Median(ratios), ratios.Min(), ratios.Max(), Stats.Median(prefillRatios), modelBytes, bytesPerToken, bandwidth[threads] / bytesPerToken));
                    }
                }
                finally
                {
                    foreach (var session in sessions.Values) session.Dispose();
                }
            }
        }
        var table = new FigureTable("Figure 10c (speed) — cached greedy decoding by weight precision, ONNX Runtime, batch 1",
                                    "model", "threads", "weights", "model files MB", "prefill tokens/s", "prefill vs fp32", "decode tokens/s", "decode vs fp32 (median of rounds)", "min–max",
                                    "bytes/token MB", "ceiling tokens/s", "decode ÷ ceiling");
        foreach (var r in rows)
            table.Add(r.Model, r.Threads, OnnxQuantizer.NameOf(r.Precision), r.ModelBytes / (double)(1 << 20), r.Prefill, FigureTable.Ratio(r.PrefillRatio), r.Decode,
                      FigureTable.Ratio(r.DecodeRatio), $"{FigureTable.Ratio(r.RatioMin)}–{FigureTable.Ratio(r.RatioMax)}", r.BytesPerToken / (1 << 20), r.Ceiling, FigureTable.Percent(r.Decode / r.Ceiling));
        table.Notes.Add($"Each sample: a fresh cache, a {promptLength}-token prompt (prefill, one call), then {steps} greedy steps of one token (decode); tokens/s from the medians of {rounds} rounds, "
                        + "each round one sample of every precision, the precision that goes first rotating; one warm-up round first. Ratios: median over rounds of the precision's rate ÷ fp32's in the same round.");
        table.Notes.Add($"Memory bandwidth measured in this run (sum of a 1 GiB float array, best of 5): 1 thread {bandwidth[1] / 1e9:F1} GB/s, 2 threads {bandwidth[2] / 1e9:F1} GB/s. "
                        + "Bytes per token = the model files (every weight read once a step) + the KV cache read at the mean context of the decode; ceiling = bandwidth ÷ bytes per token.");
        table.Notes.Add("Weights: InitializeFromScratch(1), exported per precision with OnnxExport.Write (weights beside the graph); sessions OnnxTokenformer.Load(folder, threads), all optimisations.");
        table.Notes.Add($"Load average at the end (1/5/15 min): {Machine.LoadAverage()}.");
        table.Print(context.Out);
        foreach (var r in rows.Where(r => r.Model == BenchModels.Released150M.Label && r.Precision != OnnxPrecision.Fp32))
        {
            var target = r.Precision == OnnxPrecision.Int4 ? 3.0 : 2.0;
            context.Verdicts.Add(new Verdict(FigureNumber, $"{OnnxQuantizer.NameOf(r.Precision)} / fp32 decoding, 150M, {r.Threads} thread(s)", FigureTable.Ratio(r.DecodeRatio), $"≥ {target:F1}×", r.DecodeRatio >= target));
            context.Verdicts.Add(new Verdict(FigureNumber, $"{OnnxQuantizer.NameOf(r.Precision)} / fp32 prefill, 150M, {r.Threads} thread(s)", FigureTable.Ratio(r.PrefillRatio), "≥ 1.0×", r.PrefillRatio >= 1));
        }
    }

    private static (double Prefill, double Decode) Decode(OnnxTokenformer onnx, long[] prompt, int steps)
    {
        using var cache = onnx.CreateCache();
        var picker = new TokenPicker(new SamplingOptions(Temperature: 0));
        float[] logits = [];
        var prefill = Timing.Seconds(() => logits = onnx.Run(prompt, cache, lastPositionOnly: true));
        var decode = Timing.Seconds(() =>
        {
            for (var i = 0; i < steps; i++) logits = onnx.Run([picker.Pick(logits)], cache, lastPositionOnly: true);
        });
        return (prefill, decode);
    }

    // Bytes per second one or more threads read from memory: the best of five sums of a 1 GiB float array split among them.
    private static double Bandwidth(int threads, bool smoke)
    {
        var data = new float[smoke ? 1 << 24 : 1 << 28];
        for (var i = 0; i < data.Length; i += 1024) data[i] = i;
        var best = double.MaxValue;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var watch = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                var span = data.AsSpan(t * (data.Length / threads), data.Length / threads);
                var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(span);
                Vector<float> a = default, b = default, c = default, d = default;
                for (var i = 0; i + 3 < vectors.Length; i += 4)
                {
                    a += vectors[i];
                    b += vectors[i + 1];
                    c += vectors[i + 2];
                    d += vectors[i + 3];
                }
                GC.KeepAlive(Vector.Sum(a + b + c + d));
            });
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return data.LongLength * sizeof(float) / best;
    }

    // --- Context: decoding after 1,024 tokens against after 128, int4 and fp32, 1 and 2 threads.

    /// <summary>
    /// Decoding rates at 128 and 1,024 tokens of context in the same rounds, per precision and thread count: the ratio of
    /// each round, and its median, min and max over rounds. Run alone as the <c>onnx-context</c> figure.
    /// </summary>
    internal static void Context(BenchContext context)
    {
        if (context.Smoke) return;
        context.Out.WriteLine($"Context: CPU {Machine.CpuModel()}; {Environment.ProcessorCount} logical cores; load average {Machine.LoadAverage()} at the start.");
        using var model = BenchModels.Initialized(BenchModels.Released150M);
        const int steps = 32, rounds = 7;
        int[] contexts = [128, 1024];
        var table = new FigureTable("Figure 10c (context) — decoding at 1,024 tokens of context against 128, TokenFormer150M, batch 1",
                                    "weights", "threads", "decode tokens/s at 128", "at 1,024", "1,024 ÷ 128 (median of rounds)", "min–max",
                                    "KV cache MB read a step at 128 / 1,024", "bound: 1,024 ÷ 128 if the extra cache were read at the bandwidth");
        var a = model.Stage.Architecture;
        // Bytes of keys and values a step reads at a context (the mean over the timed steps).
        double CacheBytes(int c) => 2.0 * a.Layers * a.Heads * a.HeadDim * 4 * (c + (steps / 2.0));
        var bandwidth = Threads.ToDictionary(t => t, t => Bandwidth(t, smoke: false));
        var verdicts = new List<(OnnxPrecision Precision, int Threads, double Ratio)>();
        foreach (var precision in new[] { OnnxPrecision.Int4, OnnxPrecision.Fp32 })
        {
            var folder = Path.Combine(context.WorkDirectory, $"context-150M-{OnnxQuantizer.NameOf(precision)}");
            OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision });
            foreach (var threads in Threads)
            {
                context.Log($"onnx-quant: context, {OnnxQuantizer.NameOf(precision)}, {threads} thread(s), {rounds} rounds");
                using var onnx = OnnxTokenformer.Load(folder, threads);
                var rates = contexts.ToDictionary(c => c, _ => new List<double>());
                var ratios = new List<double>();
                for (var round = -1; round < rounds; round++)
                {
                    var rate = new Dictionary<int, double>();
                    foreach (var c in round % 2 == 0 ? contexts : contexts.Reverse())
                        rate[c] = steps / Decode(onnx, BenchModels.Prompt(a.Vocabulary, c), steps).Decode;
                    if (round < 0) continue;
                    foreach (var c in contexts) rates[c].Add(rate[c]);
                    ratios.Add(rate[1024] / rate[128]);
                }
                var median = Stats.Median(ratios);
                // The best a step at 1,024 could do: the step at 128 plus the extra cache read at the measured bandwidth.
                var stepAt128 = 1 / Stats.Median(rates[128]);
                var bound = stepAt128 / (stepAt128 + ((CacheBytes(1024) - CacheBytes(128)) / bandwidth[threads]));
                table.Add(OnnxQuantizer.NameOf(precision), threads, Stats.Median(rates[128]), Stats.Median(rates[1024]), FigureTable.Ratio(median),
                          $"{FigureTable.Ratio(ratios.Min())}–{FigureTable.Ratio(ratios.Max())}",
                          $"{CacheBytes(128) / (1 << 20):F1} / {CacheBytes(1024) / (1 << 20):F1}", FigureTable.Ratio(bound));
                verdicts.Add((precision, threads, median));
            }
        }
        table.Notes.Add($"{rounds} rounds after a warm-up round, the two contexts in alternating order; each sample a fresh cache, the prompt run at once (untimed), then {steps} greedy steps timed; a round's ratio is its two rates' quotient.");
        table.Notes.Add("The cache: one buffer per layer's keys and values that the graph's GroupQueryAttention writes each step's keys and values into in place (bound as both past input and present output), copied to twice the columns needed only when full (after the prompt: room for as many steps as it has tokens), so a timed step reads the cache and copies none of it.");
        table.Notes.Add($"Memory bandwidth measured in this run (sum of a 1 GiB float array, best of 5): 1 thread {bandwidth[1] / 1e9:F1} GB/s, 2 threads {bandwidth[2] / 1e9:F1} GB/s; "
                        + "the bound is the step at 128 plus the cache it would also read at 1,024, at that bandwidth (every other part of the step unchanged).");
        table.Notes.Add($"Load average at the end (1/5/15 min): {Machine.LoadAverage()}.");
        table.Print(context.Out);
        foreach (var (precision, threads, ratio) in verdicts)
            context.Verdicts.Add(new Verdict(FigureNumber, $"{OnnxQuantizer.NameOf(precision)} decoding at 1,024 tokens of context ÷ at 128, 150M, {threads} thread(s)", FigureTable.Ratio(ratio), "≥ 0.8×", ratio >= 0.8));
    }

    // --- Loading: weights inside model.onnx against beside it, each load in a fresh process.

    private static void Loading(BenchContext context)
    {
        var table = new FigureTable("Figure 10c (loading) — weights inside model.onnx against beside it (model.onnx.data), a fresh process per load, 1 thread",
                                    "model", "weights", "placement", "load s (median)", "first call s", "peak RSS MB", "RSS after first call MB");
        BenchModels.Size[] sizes = context.Smoke ? [new("TinyKjv/Large", () => new Examples.TinyKjvLarge())] : [new("TinyKjv/Large", () => new Examples.TinyKjvLarge()), BenchModels.Released150M];
        var loads = context.Smoke ? 1 : 3;
        foreach (var size in sizes)
        {
            using var model = BenchModels.Initialized(size);
            foreach (var precision in new[] { OnnxPrecision.Fp32, OnnxPrecision.Int4 })
            {
                foreach (var placement in new[] { OnnxWeights.Inline, OnnxWeights.External })
                {
                    var folder = Path.Combine(context.WorkDirectory, $"load-{model.Stage.Family}-{OnnxQuantizer.NameOf(precision)}-{placement}");
                    OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision, Weights = placement });
                    var results = Enumerable.Range(0, loads).Select(_ => ChildProcess.Run(context.Out, "onnx-load", folder)).ToList();
                    double Median(string key) => Stats.Median(results.Select(r => r[key].GetDouble()).ToList());
                    table.Add(size.Label, OnnxQuantizer.NameOf(precision), placement == OnnxWeights.Inline ? "inline" : "beside", Median("load"), Median("first"),
                              Median("peak") / (1 << 20), Median("rss") / (1 << 20));
                }
            }
        }
        table.Notes.Add($"Median of {loads} child processes each: OnnxTokenformer.Load(folder, threads: 1) timed, then one call on an 8-token prompt; peak RSS = VmHWM after both, RSS = VmRSS then.");
        table.Print(context.Out);
    }

    /// <summary>The child's side of <see cref="Loading"/>: load, one call, report time and memory.</summary>
    public static void Child(string[] args)
    {
        var folder = args[0];
        var watch = Stopwatch.StartNew();
        using var onnx = OnnxTokenformer.Load(folder, threads: 1);
        var load = watch.Elapsed.TotalSeconds;
        using var cache = onnx.CreateCache();
        watch.Restart();
        onnx.Run(BenchModels.Prompt(onnx.Card.Vocabulary, 8), cache, lastPositionOnly: true);
        var first = watch.Elapsed.TotalSeconds;
        ChildProcess.Report(new Dictionary<string, double> { ["load"] = load, ["first"] = first, ["peak"] = ProcessMemory.Peak(), ["rss"] = ProcessMemory.Resident() });
    }
}

/// <summary>Figure 10c's decoding at 1,024 tokens of context against 128 alone (<c>onnx-context</c>): no checkpoints needed, a few minutes.</summary>
internal sealed class OnnxContextFigure : IFigure
{
    public int Number => 10;

    public string Name => "onnx-context";

    public void Run(BenchContext context) => QuantizedOnnxFigure.Context(context);
}
