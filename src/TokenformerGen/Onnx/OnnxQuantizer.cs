namespace TokenformerGen.Onnx;

/// <summary>How an export stores the matrices of every Pattention and of the tied embedding.</summary>
public enum OnnxPrecision
{
    /// <summary>float32, as trained (standard opset-17 operators only).</summary>
    Fp32,

    /// <summary>
    /// int8 weights, symmetric, one scale per output channel, multiplied with activations quantized to uint8 at run time:
    /// <c>DynamicQuantizeLinear</c>, <c>MatMulInteger</c>, <c>Cast</c>, <c>Mul</c> (standard opset 17, which ONNX Runtime
    /// fuses); the embedding gathers int8 rows and scales them.
    /// </summary>
    Int8,

    /// <summary>
    /// int4, symmetric, one scale per block of <see cref="OnnxExportOptions.BlockSize"/> inputs: <c>com.microsoft</c>
    /// <c>MatMulNBits</c> (accuracy level 4: int8 activations) and, for the embedding, <c>GatherBlockQuantized</c>.
    /// </summary>
    Int4,
}

/// <summary>
/// Symmetric weight quantization for ONNX Runtime's layouts. A matrix is given as <c>W [N, K]</c> row-major, one row per
/// output feature (the <c>B</c> of <c>MatMulNBits</c>: <c>Y = A · Wᵀ</c>) and quantized along K.
/// </summary>
public static class OnnxQuantizer
{
    /// <summary>The CLI's names of the precisions, in <see cref="OnnxPrecision"/> order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fp32", "int8", "int4"];

    /// <summary>The precision called <paramref name="name"/> (<c>fp32</c>, <c>int8</c> or <c>int4</c>), or null.</summary>
    public static OnnxPrecision? Parse(string name)
    {
        var index = Names.ToList().IndexOf(name);
        return index < 0 ? null : (OnnxPrecision)index;
    }

    /// <summary>The name of <paramref name="precision"/>.</summary>
    public static string NameOf(OnnxPrecision precision) => Names[(int)precision];

    /// <summary>
    /// int4 blocks in <c>MatMulNBits</c>' layout: <c>data [N, ⌈K / block⌉, block / 2]</c> (byte 2i of a block holds
    /// element 2i in its low nibble and 2i + 1 in its high nibble, each stored as <c>q + 8</c>, so no zero points are
    /// needed: 8 is the default) and <c>scales [N, ⌈K / block⌉]</c>; element k of row n is
    /// <c>(nibble − 8) · scale[n, k / block]</c>. As ONNX Runtime's own quantizer does, a block's scale maps its element of
    /// largest magnitude to −8 exactly, so the full range −8 … 7 is used; a padded last block holds zeros.
    /// </summary>
    public static (byte[] Data, float[] Scales) Int4Blocks(ReadOnlySpan<float> weights, int n, int k, int block)
    {
        if (block < 16 || (block & (block - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(block), block, "An int4 block is a power of two of at least 16.");
        if (weights.Length != (long)n * k) throw new ArgumentException($"{weights.Length} weights for [{n}, {k}].", nameof(weights));
        var blocks = (k + block - 1) / block;
        var data = new byte[(long)n * blocks * block / 2];
        var scales = new float[n * blocks];
        for (var row = 0; row < n; row++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var start = b * block;
                var length = Math.Min(block, k - start);
                var values = weights.Slice((row * k) + start, length);
                float extreme = 0;
                foreach (var v in values) if (Math.Abs(v) > Math.Abs(extreme)) extreme = v;
                var scale = extreme / -8f;
                var inverse = scale == 0 ? 0 : 1 / scale;
                scales[(row * blocks) + b] = scale;
                var blob = ((long)row * blocks + b) * (block / 2);
                for (var i = 0; i < length; i++)
                {
                    var q = (byte)(Math.Clamp((int)MathF.Round(values[i] * inverse, MidpointRounding.ToEven), -8, 7) + 8);
                    data[blob + (i / 2)] |= (byte)((i & 1) == 0 ? q : q << 4);
                }
                for (var i = length; i < block; i++) data[blob + (i / 2)] |= (byte)((i & 1) == 0 ? 8 : 8 << 4);
            }
        }
        return (data, scales);
    }

    /// <summary>
    /// int8 per output channel, stored as <c>MatMul</c>'s <c>B [K, N]</c> (the transpose of <c>W</c>) with
    /// <c>scales [N]</c>: element <c>(k, n)</c> is <c>q · scale[n]</c>, <c>q</c> in −127 … 127 (<c>scale = max |W[n]| / 127</c>).
    /// </summary>
    public static (sbyte[] Data, float[] Scales) Int8Channels(ReadOnlySpan<float> weights, int n, int k)
    {
        if (weights.Length != (long)n * k) throw new ArgumentException($"{weights.Length} weights for [{n}, {k}].", nameof(weights));
        var data = new sbyte[(long)n * k];
        var scales = new float[n];
        for (var row = 0; row < n; row++)
        {
            var values = weights.Slice(row * k, k);
            float largest = 0;
            foreach (var v in values) largest = Math.Max(largest, Math.Abs(v));
            var scale = largest / 127f;
            var inverse = scale == 0 ? 0 : 1 / scale;
            scales[row] = scale;
            for (var i = 0; i < k; i++) data[((long)i * n) + row] = (sbyte)Math.Clamp((int)MathF.Round(values[i] * inverse, MidpointRounding.ToEven), -127, 127);
        }
        return (data, scales);
    }
}
