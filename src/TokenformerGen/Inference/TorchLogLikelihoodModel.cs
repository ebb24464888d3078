using TokenformerGen.Modules;
using TokenformerGen.Text.ZeroShot;
using static TorchSharp.torch;

namespace TokenformerGen.Inference;

/// <summary>
/// A Tokenformer in TorchSharp as <see cref="ILogLikelihoodModel"/>, for task scoring (<see cref="TaskEvaluation"/>):
/// one forward without a cache per batch, on the model's device and in its precision; only the positions asked for
/// leave the device, as float32.
/// </summary>
public sealed class TorchLogLikelihoodModel(TokenformerModel model) : ILogLikelihoodModel
{
    /// <inheritdoc/>
    public int Context => (int)model.Stage.Architecture.Context;

    /// <inheritdoc/>
    public int OutputWidth => (int)model.Stage.Architecture.PaddedVocabulary;

    /// <inheritdoc/>
    public float[] Logits(long[] ids, int length, IReadOnlyList<(int Start, int Count)> spans)
    {
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.call(tensor(ids, [spans.Count, length], device: model.Device));
        var rows = spans.Select((span, r) => logits[r, TensorIndex.Slice(span.Start, span.Start + span.Count)]).ToArray();
        return cat(rows, 0).to(ScalarType.Float32).cpu().data<float>().ToArray();
    }
}
