using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// An ONNX export in ONNX Runtime as <see cref="ILogLikelihoodModel"/>, for task scoring (<see cref="TaskEvaluation"/>):
/// each batch runs once from an empty KV cache, and the positions asked for are copied out of the logits.
/// </summary>
public sealed class OnnxLogLikelihoodModel(OnnxTokenformer model) : ILogLikelihoodModel
{
    /// <inheritdoc/>
    public int Context => (int)model.Card.Context;

    /// <inheritdoc/>
    public int OutputWidth => (int)model.Card.PaddedVocabulary;

    /// <inheritdoc/>
    public float[] Logits(long[] ids, int length, IReadOnlyList<(int Start, int Count)> spans)
    {
        using var cache = model.CreateCache(spans.Count);
        var all = model.Run(ids, cache);
        var width = OutputWidth;
        var result = new float[spans.Sum(s => s.Count) * width];
        var at = 0;
        for (var r = 0; r < spans.Count; r++)
        {
            var (start, count) = spans[r];
            Array.Copy(all, ((long)r * length + start) * width, result, (long)at * width, (long)count * width);
            at += count;
        }
        return result;
    }
}
