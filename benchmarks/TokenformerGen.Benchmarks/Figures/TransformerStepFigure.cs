using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Modules;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 13 (issue 24): the seconds a step that the study's FLOP-matched comparison hides. A Tokenformer and its
/// equal-parameter Transformer twin (the same 16·d² weights a block, so ModelSize gives both the same FLOPs per token)
/// train side by side in one run — TinyKjv Large against TinyKjvTransformer, and TokenFormer-150M against
/// Specs/Transformer150M — in fp32 and bf16, on 1 and 2 threads. Full training steps (Trainer.Step: forward, backward,
/// clipping, AdamW) and no-grad forwards with the loss alternate ABBA between the two models (<see cref="Timing.Alternate"/>);
/// the figure is the Transformer ÷ Tokenformer time, the median of the per-pair ratios.
/// </summary>
internal sealed class TransformerStepFigure : IFigure
{
    private const int Figure = 13;

    public int Number => Figure;

    public string Name => "transformer-step";

    /// <summary>A Tokenformer, its twin, the tokens a step to time them at, and the pairs each setting gets.</summary>
    private sealed record Twins(BenchModels.Size Tokenformer, BenchModels.Size Transformer, (int Batch, int Context)[] Tokens, int Pairs);

    private sealed record Result(Twins Twins, long Parameters, int Batch, int Context, Precision Precision, int Threads, Paired Train, Paired Forward)
    {
        public int TokensPerStep => Batch * Context;
    }

    public void Run(BenchContext context)
    {
        Twins[] all = context.Smoke
            ? [new(BenchModels.TinyKjvLarge, BenchModels.TinyKjvTransformer, [(2, 32)], 2)]
            : [new(BenchModels.TinyKjvLarge, BenchModels.TinyKjvTransformer, [(16, 128)], 20),
               new(BenchModels.Released150M, BenchModels.Transformer150M, [(1, 128), (1, 512)], 5)];
        var twins = context.Shape == BenchModels.Released150M ? all.Where(t => t.Tokenformer == BenchModels.Released150M).ToArray() : all;
        var previousThreads = get_num_threads();
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var results = new List<Result>();
        try
        {
            foreach (var pair in twins) results.AddRange(Measure(context, pair, data));
        }
        finally
        {
            set_num_threads(previousThreads);
        }
        Print(context, results);
    }

    private static IEnumerable<Result> Measure(BenchContext context, Twins twins, IBatchSource data)
    {
        using var tokenformer = BenchModels.Initialized(twins.Tokenformer);
        using var transformer = BenchModels.Initialized(twins.Transformer);
        var parameters = tokenformer.Stage.Parameters;
        if (transformer.Stage.Parameters != parameters)
            throw new InvalidOperationException($"{twins.Transformer.Label} has {transformer.Stage.Parameters:N0} parameters, {twins.Tokenformer.Label} {parameters:N0}: not twins.");
        var results = new List<Result>();
        foreach (var (batch, seq) in twins.Tokens)
        {
            var options = new TrainerOptions { Steps = 10_000, Batch = batch, Context = seq };
            using var tokenformerTrainer = new Trainer(tokenformer, data, options);
            using var transformerTrainer = new Trainer(transformer, data, options);
            using var tokens = data.TrainBatch(0, 0, batch, seq);
            foreach (var precision in new[] { Precision.Fp32, Precision.Bf16 })
            {
                var target = new ComputeTarget(CPU, precision);
                tokenformer.Place(target);   // same device: the parameters and the optimizer state stay, only the compute precision changes
                transformer.Place(target);
                foreach (var threads in new[] { 1, 2 })
                {
                    set_num_threads(threads);
                    context.Log($"transformer-step: {twins.Tokenformer.Label} against {twins.Transformer.Label}, {batch} × {seq}, {precision.Name()}, {threads} thread(s), {twins.Pairs} ABBA pairs");
                    var train = Timing.Alternate(() => tokenformerTrainer.Step(), () => transformerTrainer.Step(), twins.Pairs);
                    var forward = Timing.Alternate(() => Forward(tokenformer, tokens), () => Forward(transformer, tokens), twins.Pairs);
                    results.Add(new Result(twins, parameters, batch, seq, precision, threads, train, forward));
                }
            }
        }
        return results;
    }

    /// <summary>The training step's forward and loss without the graph (as evaluation runs it), read back once.</summary>
    private static void Forward(TokenformerModel model, TokenBatch tokens)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Evaluation.BatchLoss(model, tokens, nn.Reduction.Mean).item<float>();
    }

    private static void Print(BenchContext context, List<Result> results)
    {
        var table = new FigureTable("Figure 13 — Transformer against the Tokenformer of equal parameters (and equal ModelSize FLOPs): training step and forward, same run",
                                    "twins", "parameters each", "tokens a step", "precision", "threads", "Tokenformer step", "Transformer step",
                                    "Tokenformer tokens/s", "Transformer tokens/s", "step Transformer ÷ Tokenformer (median of pairs)", "min–max",
                                    "forward Transformer ÷ Tokenformer", "min–max");
        foreach (var r in results)
        {
            table.Add($"{r.Twins.Tokenformer.Label} / {r.Twins.Transformer.Label}", r.Parameters, $"{r.Batch} × {r.Context}", r.Precision.Name(), r.Threads,
                      Ms(r.Train.BaselineMedian), Ms(r.Train.CandidateMedian), r.TokensPerStep / r.Train.BaselineMedian, r.TokensPerStep / r.Train.CandidateMedian,
                      FigureTable.Ratio(r.Train.Ratio), Range(r.Train), FigureTable.Ratio(r.Forward.Ratio), Range(r.Forward));
        }
        var pairs = string.Join(" or ", results.Select(r => r.Train.Baseline.Length).Distinct().Order());
        table.Notes.Add($"{pairs} pairs per setting in ABBA order after one warm-up of each; training = Trainer.Step (forward, loss, backward, clip 1.0, AdamW), forward = the same loss under no_grad on one fixed batch.");
        table.Notes.Add("One model of each kind per shape, initialised from scratch (seed 1), its precision switched between settings (Place on the same device): both train on the same stream of byte batches. Parameters, gradients and AdamW state are float32; bf16 multiplies in bfloat16.");
        table.Notes.Add("Ratio < 1: the Transformer step is faster, so at equal FLOPs it gets more steps in the same wall time.");
        table.Print(context.Out);
        var headline = string.Join("; ", results.GroupBy(r => (r.Twins, r.Batch, r.Context)).Select(g =>
            $"{g.Key.Twins.Tokenformer.Label} {g.Key.Batch} × {g.Key.Context}: " +
            string.Join(", ", g.Select(r => $"{r.Precision.Name()} {r.Threads}t {FigureTable.Ratio(r.Train.Ratio)}"))));
        context.Verdicts.Add(new Verdict(Figure, "Transformer ÷ Tokenformer training step, equal parameters", headline, "(finding)", null));
    }

    private static string Ms(double seconds) => $"{1e3 * seconds:F1} ms";

    private static string Range(Paired paired)
    {
        var (lo, hi) = paired.RatioRange;
        return $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}";
    }
}
