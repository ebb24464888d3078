using TokenformerGen.Primitives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.HandWritten;

/// <summary>The dimensions of a hand-written Tokenformer.</summary>
internal sealed record HandConfig(long Vocabulary, long Hidden, long Layers, long Heads, long Context,
                                  long QkvTokens, long ProjTokens, long FfnTokens,
                                  double QkvTau, double ProjTau, double FfnTau,
                                  double RotaryFraction = 0.25, double RotaryBase = 10000);

/// <summary>
/// A Tokenformer written by hand against TorchSharp, independently of the generator, as the baseline
/// of figure 4. Its Pattentions are the runtime's <see cref="Pattention"/> module, the kernel generated
/// code uses too, so the figure compares only what surrounds them; the rest is its own: pre-LN blocks
/// with a non-parametric LayerNorm, partial rotary (rotate-half) with tables precomputed for the
/// context, causal SDPA, affine final LayerNorm, tied LM head. Same parameter names and shapes as a
/// generated stage. It invokes its children with <c>forward</c> and leaves freeing temporaries to
/// the caller's dispose scope.
/// </summary>
internal sealed class HandTokenformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly ModuleList<HandBlock> layers;
    private readonly LayerNorm final_norm;
    private readonly HandRotary _rotary;

    public HandTokenformer(HandConfig config) : base(nameof(HandTokenformer))
    {
        _rotary = new HandRotary(config.Hidden / config.Heads, config.RotaryFraction, config.RotaryBase, config.Context);
        word_embeddings = nn.Embedding(config.Vocabulary, config.Hidden);
        layers = nn.ModuleList(Enumerable.Range(0, (int)config.Layers).Select(i => new HandBlock($"layers.{i}", config, _rotary)).ToArray());
        final_norm = nn.LayerNorm(config.Hidden, 1e-5);
        RegisterComponents();
    }

    /// <summary>The runtime's l2_norm_gelu Pattention d → d with <paramref name="tokens"/> tokens and the given τ.</summary>
    public static Pattention NewPattention(string name, long hidden, long tokens, double tau)
        => new(hidden, tokens, hidden, PattentionNorm.L2NormGelu, TauPolicy.Fixed, fixedTau: tau, name: name);

    public override Tensor forward(Tensor tokens)
    {
        var h = word_embeddings.forward(tokens);
        foreach (var block in layers) h = block.forward(h);
        return final_norm.forward(h).matmul(word_embeddings.weight!.t());
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rotary.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>x + attention(LN(x)), then h + FFN(LN(h)).</summary>
internal sealed class HandBlock : nn.Module<Tensor, Tensor>
{
    private readonly HandAttention attention;
    private readonly Pattention mlp;
    private readonly long _hidden;

    public HandBlock(string name, HandConfig config, HandRotary rotary) : base(name)
    {
        _hidden = config.Hidden;
        attention = new HandAttention(config, rotary);
        mlp = HandTokenformer.NewPattention("mlp", config.Hidden, config.FfnTokens, config.FfnTau);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = x + attention.forward(nn.functional.layer_norm(x, [_hidden], eps: 1e-5));
        return h + mlp.forward(nn.functional.layer_norm(h, [_hidden], eps: 1e-5));
    }
}

/// <summary>Causal multi-head attention whose four projections are Pattentions.</summary>
internal sealed class HandAttention : nn.Module<Tensor, Tensor>
{
    private readonly Pattention query;
    private readonly Pattention key;
    private readonly Pattention value;
    private readonly Pattention proj;
    private readonly HandRotary _rotary;
    private readonly long _heads;

    public HandAttention(HandConfig config, HandRotary rotary) : base("attention")
    {
        _rotary = rotary;
        _heads = config.Heads;
        query = HandTokenformer.NewPattention("query", config.Hidden, config.QkvTokens, config.QkvTau);
        key = HandTokenformer.NewPattention("key", config.Hidden, config.QkvTokens, config.QkvTau);
        value = HandTokenformer.NewPattention("value", config.Hidden, config.QkvTokens, config.QkvTau);
        proj = HandTokenformer.NewPattention("proj", config.Hidden, config.ProjTokens, config.ProjTau);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (b, t, d) = (x.shape[0], x.shape[1], x.shape[2]);
        var headDim = d / _heads;
        Tensor Heads(Tensor y) => y.view(b, t, _heads, headDim).transpose(1, 2);
        var q = _rotary.Apply(Heads(query.forward(x)));
        var k = _rotary.Apply(Heads(key.forward(x)));
        var v = Heads(value.forward(x));
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, null, 0, true);
        return proj.forward(attended.transpose(1, 2).reshape(b, t, d));
    }
}

/// <summary>GPT-NeoX partial rotary with cos/sin tables computed once for the whole context.</summary>
internal sealed class HandRotary : IDisposable
{
    private readonly long _rotated;
    private readonly Tensor _cos;
    private readonly Tensor _sin;

    public HandRotary(long headDim, double fraction, double theta, long context)
    {
        _rotated = (long)(fraction * headDim);
        var half = _rotated / 2;
        var frequencies = Enumerable.Range(0, (int)half).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / _rotated)).ToArray();
        var angles = new float[context * half];
        for (var p = 0; p < context; p++)
            for (var i = 0; i < half; i++)
                angles[p * half + i] = (float)(p * frequencies[i]);
        using var table = tensor(angles, [context, half]);
        _cos = table.cos().DetachFromDisposeScope();
        _sin = table.sin().DetachFromDisposeScope();
    }

    /// <summary>Rotates the first dims of each head of <c>[batch, heads, T, headDim]</c> at positions 0..T-1.</summary>
    public Tensor Apply(Tensor x)
    {
        var t = x.shape[2];
        var half = _rotated / 2;
        var cos = _cos.narrow(0, 0, t);
        var sin = _sin.narrow(0, 0, t);
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rest = x.narrow(-1, _rotated, x.shape[3] - _rotated);
        return cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], -1);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
