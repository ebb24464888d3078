using TokenformerGen.Inference;
using TokenformerGen.Primitives;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Text.Inference;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Modules;

/// <summary>
/// Generated modules invoke their children through TorchSharp's <c>call</c>, so forward hooks
/// registered on any submodule run, in training and in cached decoding.
/// </summary>
public class ModuleHookTests
{
    private static readonly Tensor Tokens = tensor(new long[] { 1, 5, 9, 2, 7, 3 }).view(1, 6);

    private static SampleSmall Model()
    {
        var model = new SampleSmall();
        model.InitializeFromScratch(3);
        return model;
    }

    private static string Shape(Tensor t) => "[" + string.Join(",", t.shape) + "]";

    /// <summary>Records every forward of the embedding, block 0, block 1's attention and query, block 0's FFN and the final norm.</summary>
    private static List<string> RecordForwards(SampleSmall model)
    {
        var events = new List<string>();
        var block = model.Layers[0];
        var attention = model.Layers[1].Attention;
        model.register_forward_pre_hook((_, tokens, cache) =>
        {
            events.Add($"model {Shape(tokens)} cache {(cache is null ? "none" : cache.Length)}");
            return null;
        });
        model.WordEmbeddings.register_forward_hook((_, _, y) =>
        {
            events.Add($"embedding -> {Shape(y)}");
            return y;
        });
        block.register_forward_pre_hook((_, x, cache) =>
        {
            events.Add($"block 0 {Shape(x)} cache {(cache is null ? "none" : cache.Length)}");
            return null;
        });
        block.register_forward_hook((_, _, _, y) =>
        {
            events.Add($"block 0 -> {Shape(y)}");
            return y;
        });
        block.Mlp.register_forward_hook((_, x, y) =>
        {
            events.Add($"block 0 mlp {Shape(x)} -> {Shape(y)}");
            return y;
        });
        attention.register_forward_pre_hook((_, x, cache) =>
        {
            events.Add($"block 1 attention {Shape(x)} cache {(cache is null ? "none" : cache.Length)}");
            return null;
        });
        attention.Query.register_forward_pre_hook((_, x) =>
        {
            events.Add($"block 1 query {Shape(x)}");
            return x;
        });
        attention.register_forward_hook((_, _, _, y) =>
        {
            events.Add($"block 1 attention -> {Shape(y)}");
            return y;
        });
        model.FinalNorm.register_forward_hook((_, _, y) =>
        {
            events.Add($"final_norm -> {Shape(y)}");
            return y;
        });
        return events;
    }

    [Fact]
    public void HooksOnSubmodulesFireInATrainingForward()
    {
        var model = Model();
        var events = RecordForwards(model);
        model.train();
        model.call(Tokens).sum().backward();
        Assert.Equal(
        [
            "model [1,6] cache none",
            "embedding -> [1,6,16]",
            "block 0 [1,6,16] cache none",
            "block 0 mlp [1,6,16] -> [1,6,16]",
            "block 0 -> [1,6,16]",
            "block 1 attention [1,6,16] cache none",
            "block 1 query [1,6,16]",
            "block 1 attention -> [1,6,16]",
            "final_norm -> [1,6,16]",
        ], events);
    }

    [Fact]
    public void HooksOnSubmodulesFireInCachedDecoding()
    {
        var model = Model();
        var events = RecordForwards(model);
        // TextSampler prefills the prompt, then feeds one token per step; each layer's cache grows by what it saw.
        TextSampler.Generate(model, [1, 5, 9], 3, new SamplingOptions(Temperature: 0, UseCache: true));
        Assert.Equal(
        [
            "block 1 attention [1,3,16] cache 0",
            "block 1 attention [1,1,16] cache 3",
            "block 1 attention [1,1,16] cache 4",
        ], events.Where(e => e.StartsWith("block 1 attention [", StringComparison.Ordinal)));
        Assert.Equal(["model [1,3] cache 0", "model [1,1] cache 3", "model [1,1] cache 4"], events.Where(e => e.StartsWith("model", StringComparison.Ordinal)));
        Assert.Equal(["block 0 [1,3,16] cache 0", "block 0 [1,1,16] cache 3", "block 0 [1,1,16] cache 4"], events.Where(e => e.StartsWith("block 0 [", StringComparison.Ordinal)));
        Assert.Equal(3, events.Count(e => e.StartsWith("block 1 query", StringComparison.Ordinal)));
        Assert.Equal(3, events.Count(e => e.StartsWith("block 0 mlp", StringComparison.Ordinal)));
    }

    [Fact]
    public void AForwardHookCanReplaceASubmodulesOutput()
    {
        // A hook zeroing block 1's FFN output must give the logits of the same model with that FFN's
        // value tokens zeroed (Θ(X·Kᵀ)·0 = 0), in both the full and the cached path.
        var hooked = Model();
        hooked.Layers[1].Mlp.register_forward_hook((_, _, y) => zeros_like(y));
        var reference = Model();
        using (no_grad()) reference.Layers[1].Mlp.Values.zero_();

        Assert.Equal(0, MaxAbsDifference(hooked.call(Tokens), reference.call(Tokens)));
        using var cache = hooked.CreateCache();
        var prefill = hooked.call(Tokens.narrow(1, 0, 4), cache);
        var next = hooked.call(Tokens.narrow(1, 4, 2), cache);
        Assert.InRange(MaxAbsDifference(cat([prefill, next], 1), reference.call(Tokens)), 0, 1e-5);
    }
}
