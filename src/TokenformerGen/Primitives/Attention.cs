using TokenformerGen.Onnx;
using TorchSharp;
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
    /// reused and the new ones appended. Computes in the inputs' type; the softmax accumulates in float32.
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
            attended = Attend(q, k, v, mask: null, causal: true);
        }
        else if (length == 1)
        {
            attended = Attend(q, k, v, mask: null, causal: false);   // one new token sees everything
        }
        else
        {
            // New token i (absolute position offset + i) sees keys 0 .. offset + i.
            var total = offset + length;
            var mask = ones(length, total, @bool, query.device).tril(offset);
            attended = Attend(q, k, v, mask, causal: false);
        }
        return attended.transpose(1, 2).reshape(batch, length, width).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="CausalSelfAttention(Tensor, Tensor, Tensor, long, RotaryEmbedding?, LayerKvCache?)"/> as ONNX nodes: the
    /// heads attend over the layer's cached positions and the new ones, under the <paramref name="cache"/>'s causal and
    /// padding mask, with scale <c>1/√headDim</c>, in one ONNX Runtime <c>GroupQueryAttention</c> node (as many key and
    /// value heads as query heads), which also writes the new keys and values after the cached ones into the layer's
    /// present outputs: in place when the caller binds the past buffer as the present one, so a decoding step reads the
    /// cache once and copies none of it. The rotary embedding is applied here, before the node, at the mask's positions
    /// (the operator's own rotary would count positions from column 0 and rotate whole heads).
    /// </summary>
    public static OnnxValue CausalSelfAttention(OnnxValue query, OnnxValue key, OnnxValue value, long heads,
                                                RotaryEmbedding? rotary, OnnxLayerCache cache)
    {
        if (rotary is not null)
        {
            OnnxValue Rotate(OnnxValue t) => rotary.Apply(t.Reshape(0, 0, heads, -1), cache.Cache.Positions, cache.Cache.Context).Reshape(0, 0, -1);
            query = Rotate(query);
            key = Rotate(key);
        }
        var c = cache.Cache;
        var (presentKeys, presentValues) = cache.PresentNames;
        // Inputs: query, key, value, past key and value, seqlens_k, total_sequence_length, cos and sin caches and
        // position ids (unused: rotary is outside), attention_bias, head_sink, k_scale, v_scale, q_norm_weight,
        // k_norm_weight (unused), query_seqlens (every row gets the same new columns, so a chunk after cached columns
        // may be batched).
        var outputs = query.Graph.MicrosoftNode("GroupQueryAttention",
            [query, key, value, cache.PastKeys, cache.PastValues, c.KeyLengths, c.TotalLength, null, null, null, c.Bias, null, null, null, null, null, c.QueryLengths],
            [null, presentKeys, presentValues],
            OnnxValue.IntAttribute("num_heads", heads), OnnxValue.IntAttribute("kv_num_heads", heads),
            OnnxValue.FloatAttribute("scale", (float)(1 / Math.Sqrt(cache.HeadDim))));
        cache.Present(outputs[1], outputs[2]);
        return outputs[0];
    }

    // The fused kernel, except on the meta device, which has no kernel for it: there the same attention is spelt out,
    // with the device check the kernel makes on real devices, so device tests can trace a whole model.
    internal static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal)
    {
        if (q.device_type != DeviceType.META)
            return nn.functional.scaled_dot_product_attention(q, k, v, mask, 0, causal);   // TorchSharp spells the flag "is_casual"
        if (mask is not null) Devices.SameDevice.Require(mask, "attention mask", q, "queries");
        return Explicit(q, k, v, mask, causal);
    }

    /// <summary>
    /// The fused kernel's function from elementary ops: <c>softmax(q·kᵀ/√headDim + mask)·v</c>, where <paramref name="mask"/>
    /// (true = may attend) or, when <paramref name="causal"/>, the lower triangle chooses the keys each query sees. The
    /// softmax runs in float32 (float64 for float64 input); the result is in the inputs' type.
    /// </summary>
    internal static Tensor Explicit(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal)
    {
        using var scope = NewDisposeScope();
        var scores = matmul(q, k.transpose(-2, -1)).mul_(1 / Math.Sqrt(q.shape[^1]));
        var allowed = causal ? ones(q.shape[^2], k.shape[^2], @bool, q.device).tril() : mask;
        if (allowed is not null) scores = scores.masked_fill(allowed.bitwise_not(), double.NegativeInfinity);
        var weights = scores.softmax(-1, q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32).to(q.dtype);
        return matmul(weights, v).MoveToOuterDisposeScope();
    }
}
