using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Benchmarks.HandWritten;
using TokenformerGen.Modules;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 4: one training step (forward, cross-entropy, backward, AdamW) of a generated stage
/// against the hand-written model of <see cref="HandTokenformer"/> holding the same weights. Both use
/// the same step code, the same optimizer implementation and the same batches.
/// </summary>
internal sealed class HandWrittenFigure : IFigure
{
    public int Number => 4;

    public string Name => "handwritten";

    public void Run(BenchContext context)
    {
        var size = context.Smoke ? BenchModels.Tiny : BenchModels.TenM;
        var (batchSize, seq) = context.Smoke ? (2, 32) : (8, 256);
        var pairs = context.Smoke ? 2 : 16;
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
        table.Notes.Add($"{pairs} pairs in ABBA order after one warm-up step each; every step trains on the same batch.");
        table.Print(context.Out);
        context.Verdicts.Add(new Verdict(Number, "generated / hand-written step", FigureTable.Ratio(result.Ratio), "≤ 1.02×", context.Smoke ? null : result.Ratio <= 1.02));
    }

    public static HandTokenformer HandFor(TokenformerModel model)
    {
        var stage = model.Stage;
        var a = stage.Architecture;
        return new HandTokenformer(new HandConfig(a.PaddedVocabulary, a.Hidden, a.Layers, a.Heads, a.Context,
            stage.Tokens.Qkv, stage.Tokens.Proj, stage.Tokens.Ffn, stage.Temperatures.Qkv, stage.Temperatures.Proj, stage.Temperatures.Ffn,
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
