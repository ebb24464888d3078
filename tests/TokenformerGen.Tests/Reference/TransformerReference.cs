using TokenformerGen.Architecture;
using TokenformerGen.Modules;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Reference;

/// <summary>
/// Logits of a generated Transformer of SampleTransformer's shape (width 16, 2 heads, half of each head rotating) computed
/// again by <see cref="Float64Reference.TransformerBlock"/> from its weights, read by their state-dict names.
/// </summary>
public static class TransformerReference
{
    /// <summary>
    /// Logits <c>[T][paddedVocab]</c> of one sequence <paramref name="tokens"/> <c>[1, T]</c> through <paramref name="layers"/>
    /// blocks, block <c>i</c> read from the model's block <c>blockOf(i)</c> (default: itself), so a stacked model can be
    /// predicted from its parent's weights.
    /// </summary>
    public static double[][] Logits(TokenformerModel model, Tensor tokens, int? layers = null, Func<int, int>? blockOf = null)
    {
        var shape = model.Stage.Architecture;
        Assert.Equal((16L, 2L), (shape.Hidden, shape.Heads));
        var weights = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        double[][] M(string name) => ToMatrix(weights[name]);
        var embedding = M(ParameterNames.Embedding);
        var x = tokens.data<long>().ToArray().Select(t => embedding[t]).ToArray();
        for (var layer = 0; layer < (layers ?? (int)shape.Layers); layer++)
        {
            var block = ParameterNames.Layer(blockOf?.Invoke(layer) ?? layer) + ".";
            var w = new Float64Reference.TransformerWeights(
                M(block + "attention.query.weight"), M(block + "attention.key.weight"), M(block + "attention.value.weight"),
                M(block + "attention.proj.weight"), M(block + "mlp.up.weight"), M(block + "mlp.down.weight"));
            x = Float64Reference.TransformerBlock(x, w, heads: 2, rotaryDims: 4);   // int(0.5 · 8)
        }
        var gamma = weights[ParameterNames.FinalNormWeight].to(float64).data<double>().ToArray();
        var beta = weights[ParameterNames.FinalNormBias].to(float64).data<double>().ToArray();
        var normed = x.Select(r => Float64Reference.LayerNorm(r).Select((v, i) => v * gamma[i] + beta[i]).ToArray()).ToArray();
        return Float64Reference.MatMul(normed, Float64Reference.Transpose(embedding));
    }
}
