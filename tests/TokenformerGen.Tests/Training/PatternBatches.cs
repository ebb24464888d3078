using TokenformerGen.Data;
using TokenformerGen.Training;

namespace TokenformerGen.Tests.Training;

/// <summary>
/// A learnable synthetic corpus: a fixed pseudo-random token stream of short period, split 90/5/5 (train, validation, test). With
/// <paramref name="noise"/>, that share of positions holds a seeded random token instead, so the loss levels off above zero.
/// </summary>
public sealed class PatternBatches(int vocabulary, int period = 23, int length = 4000, double noise = 0) : IBatchSource
{
    private readonly long[] _stream = Stream(vocabulary, period, length, noise);

    private static long[] Stream(int vocabulary, int period, int length, double noise)
    {
        var random = new Random(17);
        return Enumerable.Range(0, length).Select(i => random.NextDouble() < noise ? random.Next(vocabulary) : (long)((i % period) * 7 % vocabulary)).ToArray();
    }

    public double? TokensPerByte => 1;

    private TokenBatch Window(long start, int batch, int context, Func<int, long> offsetOf)
    {
        var inputs = new long[batch * context];
        var targets = new long[batch * context];
        for (var b = 0; b < batch; b++)
        {
            var offset = start + offsetOf(b);
            for (var t = 0; t < context; t++)
            {
                inputs[b * context + t] = _stream[offset + t];
                targets[b * context + t] = _stream[offset + t + 1];
            }
        }
        return new TokenBatch(tensor(inputs, [batch, context]), tensor(targets, [batch, context]));
    }

    public TokenBatch TrainBatch(long step, int micro, int batch, int context)
    {
        var trainLength = _stream.Length * 9 / 10 - context - 1;
        return Window(0, batch, context, b => (step * 7919 + micro * 104729 + b * 1299709) % trainLength);
    }

    // Validation windows start at 90% of the stream, test windows at 95% (validation may run into the test region when
    // many batches are asked for: a synthetic stream, where that is harmless).
    public IEnumerable<TokenBatch> HeldOutBatches(DataSplit split, int batch, int context, int maxBatches)
    {
        var start = split == DataSplit.Test ? _stream.Length * 19 / 20 : _stream.Length * 9 / 10;
        for (var i = 0; i < maxBatches && start + (i + 1) * batch * context + 1 < _stream.Length; i++)
            yield return Window(start + i * batch * context, batch, context, b => (long)b * context);
    }
}
