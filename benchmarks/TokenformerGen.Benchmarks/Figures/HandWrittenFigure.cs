using System.Globalization;
using TokenformerGen.Benchmarks.HandWritten;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Text.Inference;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 4: one training step (forward, cross-entropy, backward, AdamW) of a generated stage
/// against the hand-written model of <see cref="HandTokenformer"/> holding the same weights. Both use
/// the same Pattention module, the same step code, the same optimizer implementation and the same
/// batches, so the ratio measures what the generator writes around the Pattentions. A second table
/// gives peak memory per phase (training step, evaluation forward, cached decoding), each in a fresh
/// process.
/// </summary>
internal sealed class HandWrittenFigure : IFigure
{
    public int Number => 4;

    public string Name => "handwritten";

    public void Run(BenchContext context)
    {
        var size = context.Smoke ? BenchModels.Tiny : BenchModels.TenM;
        var (batchSize, seq) = Shape(context.Smoke);
        var pairs = context.Smoke ? 2 : 32;
        using var generated = BenchModels.Initialized(size);
        using var hand = HandFor(generated);
        CopyWeights(generated, hand);

        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        using var batch = data.TrainBatch(0, 0, batchSize, seq);
        var difference = MaxLogitDifference(generated.call, hand.call, batch.Inputs);

        using var generatedOptimizer = new AdamW(generated.NamedParameters());
        using var handOptimizer = new AdamW(hand.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
        generated.train();
        hand.train();
        var result = Timing.Alternate(() => Step(hand.call, handOptimizer, batch), () => Step(generated.call, generatedOptimizer, batch), pairs);

        var table = new FigureTable($"Figure 4 — generated vs hand-written training step ({size.Label}, batch {batchSize} × context {seq})",
                                    "model", "median step", "tokens/s", "ratio to hand-written (median of pairs)", "ratio min–max");
        var tokens = (double)batchSize * seq;
        var (lo, hi) = result.RatioRange;
        table.Add("hand-written (benchmarks/…/HandWritten)", $"{1e3 * result.BaselineMedian:F1} ms", tokens / result.BaselineMedian, FigureTable.Ratio(1), "");
        table.Add($"generated ({generated.GetType().Name})", $"{1e3 * result.CandidateMedian:F1} ms", tokens / result.CandidateMedian,
                  FigureTable.Ratio(result.Ratio), $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}");
        table.Notes.Add($"Same weights: max |logit difference| before training = {difference:G3} (float32 rounding of differently ordered but equal math).");
        table.Notes.Add("Both use the runtime's Pattention module; everything around it (blocks, attention, rotary, LayerNorms, invocation, dispose scopes) is each model's own.");
        table.Notes.Add($"{pairs} pairs in ABBA order after one warm-up step each; every step trains on the same batch.");
        table.Print(context.Out);
        context.Verdicts.Add(new Verdict(Number, "generated / hand-written step", FigureTable.Ratio(result.Ratio), "≤ 1.02×", context.Smoke ? null : result.Ratio <= 1.02));

        PrintPhases(context, size);
    }

    /// <summary>Batch and context of the measured steps.</summary>
    private static (int Batch, int Context) Shape(bool smoke) => smoke ? (2, 32) : (8, 256);

    /// <summary>
    /// Peak memory of each phase, each in a fresh child process. The children allocate every buffer
    /// above 128 KB with mmap and unmap it on free, so VmHWM follows the bytes of live tensors instead
    /// of what glibc happens to keep; that makes allocation slower, so times come from the table above.
    /// </summary>
    private static void PrintPhases(BenchContext context, BenchModels.Size size)
    {
        var (batchSize, seq) = Shape(context.Smoke);
        var table = new FigureTable($"Figure 4 — peak memory per phase, each in a fresh process ({size.Label})",
                                    "phase", "model", "RSS before", "peak RSS (VmHWM)", "peak above before");
        var sizeName = context.Smoke ? "tiny" : "10M";
        var environment = new Dictionary<string, string> { ["MALLOC_MMAP_THRESHOLD_"] = "131072" };
        foreach (var (phase, label) in new[] { ("train", $"training step, batch {batchSize} × {seq}"), ("eval", $"evaluation forward (no_grad), batch {batchSize} × {seq}"), ("decode", $"cached decoding, {DecodedTokens(context.Smoke)} tokens") })
        {
            foreach (var model in phase == "decode" ? new[] { "generated" } : new[] { "hand", "generated" })
            {
                context.Log($"handwritten: {phase} of the {model} model in a child process");
                var r = ChildProcess.Run(context.Out, environment, "handwritten", model, phase, sizeName, context.Smoke ? "smoke" : "full", get_num_threads().ToString(CultureInfo.InvariantCulture));
                var (before, peak) = (r["before"].GetDouble(), r["peak"].GetDouble());
                table.Add(label, model == "hand" ? "hand-written" : "generated", FigureTable.Mb(before), FigureTable.Mb(peak), FigureTable.Mb(peak - before));
            }
        }
        table.Notes.Add("Per child: the model (and for training its AdamW state) is built and the phase run twice to warm up; then VmHWM is reset and the phase run 5 times (decoding 3).");
        table.Notes.Add("MALLOC_MMAP_THRESHOLD_=131072 in the children: buffers above 128 KB are mmap'd and returned on free, so the peak counts live tensors, not allocator caches.");
        table.Notes.Add("The hand-written model has no KV cache, so decoding is measured for the generated model only (TextSampler, one-token prompt).");
        table.Print(context.Out);
    }

    private static int DecodedTokens(bool smoke) => smoke ? 16 : 256;

    /// <summary>
    /// The child: runs one phase (train, eval or decode) of one model (hand or generated) and reports its
    /// median time and peak RSS. Run directly (<c>--child handwritten generated train 10M full 1</c>)
    /// it compares builds of the generator, e.g. with and without per-layer dispose scopes.
    /// </summary>
    public static void Child(string[] args)
    {
        var (model, phase, size, smoke) = (args[0], args[1], BenchModels.ByName(args[2]), args[3] == "smoke");
        set_num_threads(int.Parse(args[4], CultureInfo.InvariantCulture));   // the parent's --threads
        var (batchSize, seq) = Shape(smoke);
        using var generated = BenchModels.Initialized(size);
        using var hand = model == "hand" ? HandFor(generated) : null;
        if (hand is not null) CopyWeights(generated, hand);
        Func<Tensor, Tensor> logits = hand is null ? generated.call : hand.call;
        using var corpus = BenchModels.OpenCorpus();
        using var batch = BenchModels.Batches(corpus).TrainBatch(0, 0, batchSize, seq);
        using var optimizer = phase == "train" ? new AdamW(hand?.named_parameters().Select(p => (p.name, (Tensor)p.parameter)) ?? generated.NamedParameters()) : null;

        Action run = phase switch
        {
            "train" => () => Step(logits, optimizer!, batch),
            "eval" => () =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                logits(batch.Inputs);
            },
            "decode" when hand is null => () => TextSampler.Generate(generated, ['T'], DecodedTokens(smoke), new SamplingOptions(UseCache: true)),
            _ => throw new ArgumentException($"Unknown phase '{phase}' for the {model} model."),
        };
        if (phase == "train") (hand as nn.Module ?? generated).train();
        else (hand as nn.Module ?? generated).eval();
        run();
        run();
        var before = ProcessMemory.Resident();
        ProcessMemory.ResetPeak();
        var seconds = Enumerable.Range(0, phase == "decode" ? 3 : 5).Select(_ => Timing.Seconds(run)).ToList();
        ChildProcess.Report(new Dictionary<string, object>
        {
            ["median"] = Stats.Median(seconds), ["before"] = before, ["peak"] = ProcessMemory.Peak(),
            ["seconds"] = seconds.Select(s => s.ToString("F4", CultureInfo.InvariantCulture)).ToList(),
        });
    }

    public static HandTokenformer HandFor(TokenformerModel model)
    {
        var stage = model.Stage;
        var a = stage.Architecture;
        return new HandTokenformer(new HandConfig(a.PaddedVocabulary, a.Hidden, a.Layers, a.Heads, a.Context,
            stage.Tokens.Qkv, stage.Tokens.Proj, stage.Tokens.Ffn, stage.Taus.Qkv, stage.Taus.Proj, stage.Taus.Ffn,
            a.RotaryFraction, a.RotaryBase));
    }

    /// <summary>Copies every tensor by state-dict name; the two models must have exactly the same names and shapes.</summary>
    public static void CopyWeights(TokenformerModel from, nn.Module to)
    {
        var source = from.state_dict();
        var target = to.state_dict();
        if (!source.Keys.Order().SequenceEqual(target.Keys.Order()))
            throw new InvalidOperationException("The hand-written model's state dict differs from the generated one: "
                + string.Join(", ", source.Keys.Except(target.Keys).Concat(target.Keys.Except(source.Keys))));
        using var _ = no_grad();
        foreach (var (name, tensor) in source) target[name].copy_(tensor);
    }

    private static double MaxLogitDifference(Func<Tensor, Tensor> a, Func<Tensor, Tensor> b, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return (a(tokens) - b(tokens)).abs().max().item<float>();
    }

    /// <summary>The step both models take: forward (through <c>call</c>), mean cross-entropy, backward, AdamW, zero gradients.</summary>
    private static void Step(Func<Tensor, Tensor> model, AdamW optimizer, Data.TokenBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = model(batch.Inputs);
        var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), batch.Targets.view(-1));
        loss.backward();
        optimizer.Step(6e-4);
        optimizer.ZeroGrad();
    }
}
