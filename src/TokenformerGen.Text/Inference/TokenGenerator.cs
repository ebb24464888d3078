namespace TokenformerGen.Text.Inference;

/// <summary>Autoregressive sampling over any <see cref="INextTokenModel"/>, with or without its KV cache.</summary>
public static class TokenGenerator
{
    /// <summary>
    /// Extends <paramref name="prompt"/> by <paramref name="count"/> tokens picked by a <see cref="TokenPicker"/> and
    /// returns the new ones. The window never exceeds the model's <see cref="INextTokenModel.Context"/>. With the cache
    /// (<see cref="SamplingOptions.UseCache"/>) the cache is reset and filled with up to a whole context of the newest
    /// tokens, then each step feeds the last token; when the cache holds a whole context it is reset and filled again
    /// from the newest half-context. Without it, each step runs the newest <c>Context</c> tokens. The cache is left as
    /// the last step left it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="prompt"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public static List<long> Generate(INextTokenModel model, IReadOnlyList<long> prompt, int count, SamplingOptions options)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var picker = new TokenPicker(options);
        var context = model.Context;
        var sequence = new List<long>(prompt);
        var produced = new List<long>(count);
        for (var i = 0; i < count; i++)
        {
            float[] logits;
            if (!options.UseCache)
            {
                logits = model.NextLogits(Newest(sequence, context), useCache: false);
            }
            else if (i == 0 || model.CachedLength >= context)
            {
                // First prefill: up to a whole context; a full cache restarts from the newest half.
                model.ResetCache();
                logits = model.NextLogits(Newest(sequence, i == 0 ? context : context / 2), useCache: true);
            }
            else
            {
                logits = model.NextLogits([sequence[^1]], useCache: true);
            }
            var next = picker.Pick(logits);
            sequence.Add(next);
            produced.Add(next);
        }
        return produced;
    }

    private static List<long> Newest(List<long> sequence, int count)
    {
        var start = Math.Max(0, sequence.Count - count);
        return sequence.GetRange(start, sequence.Count - start);
    }
}
