using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Inference;
using static TorchSharp.torch;

namespace TokenformerGen.Inference;

/// <summary>Autoregressive sampling from a Tokenformer, with or without a KV cache, on the model's device and in its precision.</summary>
public static class TextSampler
{
    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> sampled tokens and returns the new
    /// ones. The window never exceeds the model's context: past it, the cache is rebuilt from the most
    /// recent half-context (without a cache, the prefix is cropped to the context). The loop and the draws are
    /// <see cref="TokenGenerator.Generate"/>'s, shared with every other engine; this runs the model for it.
    /// </summary>
    public static List<long> Generate(TokenformerModel model, IReadOnlyList<long> prompt, int count, SamplingOptions options)
    {
        model.eval();
        using var _ = no_grad();
        using var engine = new TorchNextTokenModel(model);
        return TokenGenerator.Generate(engine, prompt, count, options);
    }

    /// <summary>The model and one <see cref="KvCache"/>; only the last position's logits leave the device.</summary>
    private sealed class TorchNextTokenModel(TokenformerModel model) : INextTokenModel, IDisposable
    {
        private readonly Device _device = model.Device;
        private KvCache? _cache;

        public int Context => (int)model.Stage.Architecture.Context;

        public int CachedLength => (int)(_cache?.Length ?? 0);

        public void ResetCache()
        {
            _cache?.Dispose();
            _cache = null;
        }

        public float[] NextLogits(IReadOnlyList<long> tokens, bool useCache)
        {
            using var scope = NewDisposeScope();
            if (useCache) _cache ??= model.CreateCache();
            var logits = model.call(tensor(tokens.ToArray(), device: _device).unsqueeze(0), useCache ? _cache : null);
            return logits[0, -1].cpu().data<float>().ToArray();
        }

        public void Dispose() => ResetCache();
    }
}
