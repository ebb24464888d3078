using TokenformerGen.Tests.Generated;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Reference;

/// <summary>The logits of a generated Sample model computed again by <see cref="Float64Reference"/> from its weights.</summary>
public static class SampleReference
{
    /// <summary>Logits <c>[T][vocab]</c> of one sequence <paramref name="tokens"/> <c>[1, T]</c> (a CPU model; its float32 weights widened to float64).</summary>
    public static double[][] Logits(SampleSmall model, Tensor tokens)
    {
        var embedding = ToMatrix(model.WordEmbeddings.Weight);
        var x = tokens.data<long>().ToArray().Select(t => embedding[t]).ToArray();
        foreach (var block in model.Layers)
        {
            var a = block.Attention;
            var w = new Float64Reference.BlockWeights(
                ToMatrix(a.Query.Keys), ToMatrix(a.Query.Values), ToMatrix(a.Key.Keys), ToMatrix(a.Key.Values),
                ToMatrix(a.Value.Keys), ToMatrix(a.Value.Values), ToMatrix(a.Proj.Keys), ToMatrix(a.Proj.Values),
                ToMatrix(block.Mlp.Keys), ToMatrix(block.Mlp.Values));
            x = Float64Reference.Block(x, w, heads: 2, rotaryDims: 4);   // int(0.5 · 8)
        }
        var gamma = model.FinalNorm.Weight.to(float64).data<double>().ToArray();
        var beta = model.FinalNorm.Bias.to(float64).data<double>().ToArray();
        var normed = x.Select(r => Float64Reference.LayerNorm(r).Select((v, i) => v * gamma[i] + beta[i]).ToArray()).ToArray();
        return Float64Reference.MatMul(normed, Float64Reference.Transpose(embedding));
    }
}
