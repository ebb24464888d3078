using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Onnx;
using TokenformerGen.Onnx.Proto;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;

namespace TokenformerGen.Tests.Onnx;

/// <summary>
/// Quantized exports: the packed weights decoded here by the operators' documented layouts (MatMulNBits' and
/// GatherBlockQuantized's int4 blocks, MatMulInteger's int8 per-channel weights) in float64, and the exported graphs run in ONNX
/// Runtime against the float64 reference model carrying those decoded weights.
/// </summary>
public sealed class OnnxQuantizationTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tfg-onnx-quant-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Int4BlocksDecodeToTheWeightsWithinHalfAStepAndPadWithZeros()
    {
        // 3 rows of 40: two full blocks of 16 and a last block of 8 padded to 16.
        const int n = 3, k = 40, block = 16;
        var weights = Enumerable.Range(0, n * k).Select(i => (float)Math.Sin(i * 0.37) * (1 + (i % 7))).ToArray();
        weights[5] = -9.5f;   // the extreme of row 0's first block is negative
        var (data, scales) = OnnxQuantizer.Int4Blocks(weights, n, k, block);
        Assert.Equal(n * 3 * block / 2, data.Length);
        Assert.Equal(n * 3, scales.Length);
        var decoded = DecodeInt4(data, [.. scales.Select(v => (double)v)], n, 3 * block, block);
        for (var row = 0; row < n; row++)
        {
            for (var i = 0; i < k; i++)
            {
                var scale = Math.Abs((double)scales[(row * 3) + (i / block)]);
                Assert.True(Math.Abs(decoded[row][i] - weights[(row * k) + i]) <= (scale / 2) + 1e-6, $"row {row} element {i}: {decoded[row][i]} for {weights[(row * k) + i]} (scale {scale})");
            }
            for (var i = k; i < 3 * block; i++) Assert.Equal(0, decoded[row][i]);
        }
        Assert.Equal(-9.5, decoded[0][5], 6);   // mapped to −8 steps exactly
    }

    [Fact]
    public void Int8ChannelsDecodeToTheWeightsWithinHalfAStepInMatmulLayout()
    {
        const int n = 4, k = 6;
        var weights = Enumerable.Range(0, n * k).Select(i => (float)Math.Cos(i * 1.3) * (i + 1)).ToArray();
        var (data, scales) = OnnxQuantizer.Int8Channels(weights, n, k);
        for (var row = 0; row < n; row++)
        {
            for (var i = 0; i < k; i++)
            {
                var value = data[(i * n) + row] * (double)scales[row];   // B [K, N]: element (i, row)
                Assert.True(Math.Abs(value - weights[(row * k) + i]) <= (scales[row] / 2.0) + 1e-6, $"({row}, {i}): {value} for {weights[(row * k) + i]}");
            }
        }
    }

    // Both multiply int8-quantized activations with the quantized weights (int8: DynamicQuantizeLinear, one scale for the
    // whole activation tensor, then MatMulInteger; int4: MatMulNBits at accuracy level 4, one scale per block of 16
    // inputs here), as written and as ONNX Runtime fuses them, so they are within int8 rounding of the decoded model, 2e-2.
    [Theory]
    [InlineData("int8", 2e-2)]
    [InlineData("int4", 2e-2)]
    public void AQuantizedExportComputesTheModelOfItsDecodedWeights(string precision, double asWritten)
    {
        using var model = new SampleSmall();
        model.InitializeFromScratch(41);
        model.eval();
        var folder = Path.Combine(_folder, precision);
        var options = new OnnxExportOptions { Precision = OnnxQuantizer.Parse(precision)!.Value, BlockSize = 16 };
        var result = OnnxExport.Write(model, folder, options);
        Assert.Equal(precision, result.Card.Weights);

        // Decode every quantized matrix from the file into the model, in float64 and back to its float32 parameter.
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, OnnxExport.ModelFile)));
        var initializers = proto.Graph.Initializer.ToDictionary(t => t.Name);
        var decodedMatrices = 0;
        using (no_grad())
        {
            foreach (var (name, parameter) in model.NamedParameters())
            {
                var suffix = precision == "int8" ? ".int8" : ".int4";
                if (!initializers.TryGetValue(name + suffix, out var data))
                {
                    Assert.True(parameter.Dimensions == 1, $"{name} is a matrix left in float32");
                    continue;
                }
                Assert.False(initializers.ContainsKey(name), $"{name} is stored twice");
                var scales = Floats(initializers[name + ".scales"]);
                // Keys and the embedding are W [N, K] as stored; values are stored transposed, [d_out, n].
                var transposed = !name.EndsWith(TokenformerGen.Architecture.ParameterNames.ValueTokens, StringComparison.Ordinal);
                var (rows, width) = transposed ? (parameter.shape[0], parameter.shape[1]) : (parameter.shape[1], parameter.shape[0]);
                double[][] w;
                if (precision == "int8")
                {
                    var q = data.RawData.ToByteArray().Select(b => (double)(sbyte)b).ToArray();   // [K, N]
                    w = [.. Enumerable.Range(0, (int)rows).Select(r => Enumerable.Range(0, (int)width).Select(i => q[(i * rows) + r] * scales[r]).ToArray())];
                }
                else
                {
                    Assert.Equal([rows, (width + 15) / 16, 8], data.Dims);
                    w = DecodeInt4(data.RawData.ToByteArray(), scales, (int)rows, (int)data.Dims[1] * 16, 16);
                }
                using var matrix = tensor(w.SelectMany(r => r.Take((int)width)).ToArray(), [rows, width]).to(float32);
                parameter.copy_(transposed ? matrix : matrix.t());
                decodedMatrices++;
            }
        }
        Assert.Equal(1 + (2 * 5 * 2), decodedMatrices);   // the embedding, and keys and values of 5 Pattentions in each of 2 layers

        long[] tokens = [3, 77, 12, 200, 9, 41, 180, 6];
        var reference = SampleReference.Logits(model, tensor(tokens).unsqueeze(0)).SelectMany(row => row).ToArray();
        using var exported = OnnxTokenformer.Load(folder, threads: 1);
        using var cache = exported.CreateCache();
        AssertClose(reference, RunAsWritten(folder, tokens), asWritten, $"{precision} graph as written");
        AssertClose(reference, exported.Run(tokens, cache), 2e-2, $"{precision} graph as ONNX Runtime optimises it");
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        var largest = expected.Max(Math.Abs);
        var worst = expected.Select((v, i) => Math.Abs(v - actual[i])).Max();
        Assert.True(worst <= tolerance * largest, $"{what}: largest difference {worst:E3} against largest logit {largest:E3} (relative {worst / largest:E3} > {tolerance:E0})");
    }

    // The logits of a prompt through an empty cache with every graph optimisation off, so each node runs as exported.
    private static float[] RunAsWritten(string folder, long[] tokens)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(Path.Combine(folder, OnnxExport.ModelFile), options);
        var values = new List<(string Name, OrtValue Value)>
        {
            ("input_ids", OrtValue.CreateTensorValueFromMemory(tokens, [1, tokens.Length])),
            ("attention_mask", OrtValue.CreateTensorValueFromMemory(tokens.Select(_ => 1L).ToArray(), [1, tokens.Length])),
        };
        foreach (var input in session.InputMetadata.Keys.Where(n => n.StartsWith("past_", StringComparison.Ordinal)))
            values.Add((input, OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, 2, 0, 8])));
        using var run = new RunOptions();
        using var outputs = session.Run(run, [.. values.Select(v => v.Name)], [.. values.Select(v => v.Value)], ["logits"]);
        values.ForEach(v => v.Value.Dispose());
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void AnUnusableBlockOrAnEmbeddingOfPartialBlocksIsRefusedAndWritesNothing()
    {
        using var model = new SampleSmall();
        model.InitializeFromScratch(43);
        var folder = Path.Combine(_folder, "refused");
        var odd = Assert.Throws<OnnxExportException>(() => OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = OnnxPrecision.Int4, BlockSize = 24 }));
        Assert.Contains("int4 block 24", odd.Message);
        // Sample's embedding is 16 wide: blocks of 32 would leave GatherBlockQuantized half a block.
        var partial = Assert.Throws<OnnxExportException>(() => OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = OnnxPrecision.Int4, BlockSize = 32 }));
        Assert.Contains("word_embeddings.weight is 16 wide", partial.Message);
        Assert.False(Directory.Exists(folder));
    }

    // int4 blocks in MatMulNBits' layout, decoded by its documentation: per row, per block, byte j holds element 2j in
    // the low nibble and 2j + 1 in the high one, each q + 8 (the default zero point); value (q − 8) · scale.
    private static double[][] DecodeInt4(byte[] data, IReadOnlyList<double> scales, int rows, int paddedWidth, int block)
    {
        var blocks = paddedWidth / block;
        var result = new double[rows][];
        for (var r = 0; r < rows; r++)
        {
            result[r] = new double[paddedWidth];
            for (var i = 0; i < paddedWidth; i++)
            {
                var b = data[((r * paddedWidth) + i) / 2];
                var nibble = (i & 1) == 0 ? b & 0xF : b >> 4;
                result[r][i] = (nibble - 8) * scales[(r * blocks) + (i / block)];
            }
        }
        return result;
    }

    private static double[] Floats(TensorProto tensor)
    {
        var bytes = tensor.RawData.ToByteArray();
        return [.. Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, i * 4))];
    }
}
