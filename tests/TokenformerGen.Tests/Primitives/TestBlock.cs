using TokenformerGen.Primitives;
using TorchSharp.Modules;

namespace TokenformerGen.Tests.Primitives;

/// <summary>One Tokenformer block composed by hand from the runtime primitives (what generated code spells out).</summary>
public sealed class TestBlock : nn.Module<Tensor, Tensor>
{
    public readonly Pattention query, key, value, proj, mlp;
    private readonly RotaryEmbedding _rotary;
    private readonly long _heads;

    public TestBlock(long hidden, long heads, long qkvTokens, long projTokens, long ffnTokens) : base("block")
    {
        _heads = heads;
        _rotary = new RotaryEmbedding(hidden / heads);
        query = new Pattention(hidden, qkvTokens, hidden);
        key = new Pattention(hidden, qkvTokens, hidden);
        value = new Pattention(hidden, qkvTokens, hidden);
        proj = new Pattention(hidden, projTokens, hidden);
        mlp = new Pattention(hidden, ffnTokens, hidden);
        RegisterComponents();
    }

    public IEnumerable<(string Name, Pattention Module)> Pattentions()
        => [("query", query), ("key", key), ("value", value), ("proj", proj), ("mlp", mlp)];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var normed = LayerNorms.NonParametric(x);
        var attended = Attention.CausalSelfAttention(query.call(normed), key.call(normed), value.call(normed), _heads, _rotary);
        var h = x + proj.call(attended);
        return (h + mlp.call(LayerNorms.NonParametric(h))).MoveToOuterDisposeScope();
    }

    public static TestBlock Random(long hidden, long heads, long qkv, long proj, long ffn, int seed, double valueStd = 0.3)
    {
        var block = new TestBlock(hidden, heads, qkv, proj, ffn);
        using var generator = new Generator((ulong)seed);
        foreach (var (_, p) in block.Pattentions()) Initializers.Initialize(p, 0.5, valueStd, generator);
        return block;
    }
}
