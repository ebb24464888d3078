using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using static TorchSharp.torch;

namespace TokenformerGen.Inference;

/// <summary>Autoregressive sampling from a Tokenformer, with or without a KV cache, on the model's device and in its precision.</summary>
public static class TextSampler
{
    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> sampled tokens and returns the new
    /// ones. The window never exceeds the model's context: past it, the cache is rebuilt from the most
    /// recent half-context (without a cache, the prefix is cropped to the context).
    /// </summary>
    public static List<long> Generate(TokenformerModel model, IReadOnlyList<long> prompt, int count, SamplingOptions options)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        model.eval();
        using var _ = no_grad();
        using var generator = new Generator((ulong)options.Seed);
        var device = model.Device;
        Tensor Ids(IEnumerable<long> ids) => tensor(ids.ToArray(), device: device).unsqueeze(0);
        var context = (int)model.Stage.Architecture.Context;
        var sequence = new List<long>(prompt);
        var produced = new List<long>(count);
        KvCache? cache = null;
        try
        {
            for (var i = 0; i < count; i++)
            {
                using var scope = NewDisposeScope();
                Tensor logits;
                if (options.UseCache)
                {
                    if (cache is null || cache.Length >= context)
                    {
                        // First prefill: up to a whole context; a full cache restarts from the newest half.
                        var keep = cache is null ? context : context / 2;
                        cache?.Dispose();
                        cache = model.CreateCache();
                        logits = model.call(Ids(sequence.Skip(Math.Max(0, sequence.Count - keep))), cache);
                    }
                    else
                    {
                        logits = model.call(Ids([sequence[^1]]), cache);
                    }
                }
                else
                {
                    logits = model.call(Ids(sequence.Skip(Math.Max(0, sequence.Count - context))));
                }
                var next = Pick(logits[0, -1], options, generator);
                sequence.Add(next);
                produced.Add(next);
            }
        }
        finally
        {
            cache?.Dispose();
        }
        return produced;
    }

    /// <summary>
    /// Picks one id from last-position logits <c>[vocab]</c> on any device. The draw is made on the CPU from the CPU
    /// <paramref name="generator"/> (the probabilities are copied there), so a seed samples the same tokens on every device.
    /// </summary>
    public static long Pick(Tensor logits, SamplingOptions options, Generator generator)
    {
        var scores = options.Vocabulary is long v && v < logits.shape[0] ? logits.narrow(0, 0, v) : logits;
        if (options.Temperature <= 0) return scores.argmax().item<long>();
        scores = scores / options.Temperature;
        if (options.TopK > 0 && options.TopK < scores.shape[0])
        {
            var threshold = scores.topk(options.TopK).values[-1];
            scores = scores.masked_fill(scores < threshold, double.NegativeInfinity);
        }
        return multinomial(softmax(scores, 0).to(CPU), 1, generator: generator).item<long>();
    }
}
