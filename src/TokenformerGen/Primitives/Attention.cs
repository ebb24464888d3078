using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>Causal multi-head self-attention over projected queries, keys and values.</summary>
public static class Attention
{
    /// <summary>
    /// Splits <c>[batch, T, d]</c> queries, keys and values into heads, applies the rotary
    /// embedding at positions offset by the cache length, attends causally with scale
    /// <c>1/√headDim</c> (fused <c>scaled_dot_product_attention</c>), and merges the heads back to
    /// <c>[batch, T, d]</c>. With a <paramref name="cache"/>, keys and values of earlier positions are
    /// reused and the new ones appended.
    /// </summary>
    public static Tensor CausalSelfAttention(Tensor query, Tensor key, Tensor value, long heads,
                                             RotaryEmbedding? rotary, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var (batch, length, width) = (query.shape[0], query.shape[1], query.shape[2]);
        var headDim = width / heads;
        var offset = cache?.Length ?? 0;

        Tensor SplitHeads(Tensor t) => t.view(batch, length, heads, headDim).transpose(1, 2);
        var q = SplitHeads(query);
        var k = SplitHeads(key);
        var v = SplitHeads(value);
        if (rotary is not null)
        {
            q = rotary.Apply(q, offset);
            k = rotary.Apply(k, offset);
        }
        if (cache is not null) (k, v) = cache.Append(k, v);

        Tensor attended;
        if (offset == 0)
        {
            attended = nn.functional.scaled_dot_product_attention(q, k, v, null, 0, true);   // TorchSharp spells the flag "is_casual"
        }
        else if (length == 1)
        {
            attended = nn.functional.scaled_dot_product_attention(q, k, v);   // one new token sees everything
        }
        else
        {
            // New token i (absolute position offset + i) sees keys 0 .. offset + i.
            var total = offset + length;
            var mask = ones(length, total, @bool, query.device).tril(offset);
            attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        }
        return attended.transpose(1, 2).reshape(batch, length, width).MoveToOuterDisposeScope();
    }
}
