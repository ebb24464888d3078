using TokenformerGen.Primitives;
using TorchSharp.Modules;

namespace TokenformerGen.Tests.Primitives;

/// <summary>One Tokenformer block composed by hand from the runtime primitives (what generated code spells out).</summary>
public sealed class TestBlock : nn.Module<Tensor, Tensor>
{
    public readonly Pattention query, key, value, proj, mlp;
    private readonly RotaryEmbedding _rotary;
    private readonly long _heads;

    public TestBlock(long hidden, long heads, long qkvTokens, long projTokens, long ffnTokens,
                     TauPolicy policy = TauPolicy.SqrtN, (double Qkv, double Proj, double Ffn)? taus = null) : base("block")
    {
        _heads = heads;
        _rotary = new RotaryEmbedding(hidden / heads);
        query = new Pattention(hidden, qkvTokens, hidden, tauPolicy: policy, fixedTau: taus?.Qkv);
        key = new Pattention(hidden, qkvTokens, hidden, tauPolicy: policy, fixedTau: taus?.Qkv);
        value = new Pattention(hidden, qkvTokens, hidden, tauPolicy: policy, fixedTau: taus?.Qkv);
        proj = new Pattention(hidden, projTokens, hidden, tauPolicy: policy, fixedTau: taus?.Proj);
        mlp = new Pattention(hidden, ffnTokens, hidden, tauPolicy: policy, fixedTau: taus?.Ffn);
        RegisterComponents();
    }

    public IEnumerable<(string Name, Pattention Module)> Pattentions()
        => [("query", query), ("key", key), ("value", value), ("proj", proj), ("mlp", mlp)];

    public Tensor Forward(Tensor x, LayerKvCache? cache)
    {
        using var scope = NewDisposeScope();
        var normed = LayerNorms.NonParametric(x);
        var attended = Attention.CausalSelfAttention(query.forward(normed), key.forward(normed), value.forward(normed), _heads, _rotary, cache);
        var h = x + proj.forward(attended);
        return (h + mlp.forward(LayerNorms.NonParametric(h))).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    public static TestBlock Random(long hidden, long heads, long qkv, long proj, long ffn, int seed,
                                   TauPolicy policy = TauPolicy.SqrtN, (double, double, double)? taus = null, double valueStd = 0.3)
    {
        var block = new TestBlock(hidden, heads, qkv, proj, ffn, policy, taus);
        using var generator = new Generator((ulong)seed);
        foreach (var (_, p) in block.Pattentions()) Initializers.Initialize(p, 0.5, valueStd, generator);
        return block;
    }
}
