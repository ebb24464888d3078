using TokenformerGen.Architecture;
using TokenformerGen.Modules;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Reference;

/// <summary>
/// The logits of a generated model of the Sample shape (2 layers, width 16, 2 heads, half the head dimensions rotating,
/// <c>l2_norm_gelu</c> with τ = √n: Sample's and SampleLargeVocabulary's stages) computed again by
/// <see cref="Float64Reference"/> from its weights, read by their state-dict names.
/// </summary>
public static class SampleReference
{
    /// <summary>Logits <c>[T][paddedVocab]</c> of one sequence <paramref name="tokens"/> <c>[1, T]</c> (a CPU model; its float32 weights widened to float64).</summary>
    public static double[][] Logits(TokenformerModel model, Tensor tokens)
    {
        var shape = model.Stage.Architecture;
        Assert.Equal((2L, 16L, 2L), (shape.Layers, shape.Hidden, shape.Heads));
        var weights = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        double[][] M(string name) => ToMatrix(weights[name]);
        var embedding = M(ParameterNames.Embedding);
        var x = tokens.data<long>().ToArray().Select(t => embedding[t]).ToArray();
        for (var layer = 0; layer < shape.Layers; layer++)
        {
            var block = ParameterNames.Layer(layer) + ".";
            double[][] Keys(string pattention) => M(block + pattention + "." + ParameterNames.KeyTokens);
            double[][] Values(string pattention) => M(block + pattention + "." + ParameterNames.ValueTokens);
            var w = new Float64Reference.BlockWeights(
                Keys("attention.query"), Values("attention.query"), Keys("attention.key"), Values("attention.key"),
                Keys("attention.value"), Values("attention.value"), Keys("attention.proj"), Values("attention.proj"),
                Keys(ParameterNames.FfnModule), Values(ParameterNames.FfnModule));
            x = Float64Reference.Block(x, w, heads: 2, rotaryDims: 4);   // int(0.5 · 8)
        }
        var gamma = weights[ParameterNames.FinalNormWeight].to(float64).data<double>().ToArray();
        var beta = weights[ParameterNames.FinalNormBias].to(float64).data<double>().ToArray();
        var normed = x.Select(r => Float64Reference.LayerNorm(r).Select((v, i) => v * gamma[i] + beta[i]).ToArray()).ToArray();
        return Float64Reference.MatMul(normed, Float64Reference.Transpose(embedding));
    }
}
