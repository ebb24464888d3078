using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TokenformerGen.Checkpoints;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class SafeTensorsFileTests : TempFolderTest
{
    private static Dictionary<string, Tensor> EveryDType()
    {
        using var generator = new Generator(7);
        var f32 = tensor(new[] { 1.5f, -0.0f, float.Epsilon, float.NaN, float.PositiveInfinity, -3.25e-20f }, [2, 3]);
        return new Dictionary<string, Tensor>
        {
            ["f64"] = randn([3, 2], float64, generator: generator),
            ["f32"] = f32,
            ["f16"] = randn([5], float16, generator: generator),
            ["bf16"] = randn([2, 2, 2], bfloat16, generator: generator),
            ["i64"] = tensor(new[] { long.MinValue, -1L, long.MaxValue }),
            ["i32"] = tensor(new[] { int.MinValue, 42 }),
            ["i16"] = tensor(new short[] { -7, 300 }),
            ["i8"] = tensor(new sbyte[] { -128, 127 }),
            ["u8"] = tensor(new byte[] { 0, 255, 9 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["scalar"] = tensor(3.0f),
            ["empty"] = zeros([0, 3]),
        };
    }

    [Fact]
    public void RoundTripIsBitExactForEveryDType()
    {
        var path = PathOf("all.safetensors");
        var tensors = EveryDType();
        var metadata = new Dictionary<string, string> { ["note"] = "α+β <&> \"quoted\"", ["empty"] = "" };
        SafeTensorsFile.Write(path, tensors, metadata);

        using var read = SafeTensorsFile.Read(path);
        TensorAssert.StateDictsBitEqual(tensors, read.Tensors);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), read.Metadata.OrderBy(kv => kv.Key));
        Assert.Equal(["all.safetensors"], FilesInFolder());
    }

    [Fact]
    public void NonContiguousAndViewTensorsAreWrittenByValue()
    {
        var path = PathOf("views.safetensors");
        using var baseTensor = arange(24, float32).reshape(4, 6);
        using var transposed = baseTensor.t();
        using var narrowed = baseTensor.narrow(0, 1, 2);
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed, ["n"] = narrowed });

        using var read = SafeTensorsFile.Read(path);
        Assert.Equal(transposed.contiguous().data<float>().ToArray(), read.Tensors["t"].data<float>().ToArray());
        Assert.Equal(narrowed.contiguous().data<float>().ToArray(), read.Tensors["n"].data<float>().ToArray());
    }

    [Fact]
    public void BytesOnDiskMatchTheSafetensorsFormat()
    {
        var path = PathOf("format.safetensors");
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor>
        {
            ["b.weight"] = tensor(new[] { 1.5f, -2f, 0.25f }, [3, 1]),
            ["a"] = tensor(new[] { 7L }),
        }, new Dictionary<string, string> { ["step"] = "12" });

        var bytes = File.ReadAllBytes(path);
        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.StartsWith("{", headerText);
        var unpadded = headerText.TrimEnd(' ');
        Assert.EndsWith("}", unpadded);
        Assert.InRange(headerText.Length - unpadded.Length, 0, 7); // padded with spaces only

        using var json = JsonDocument.Parse(headerText);
        var root = json.RootElement;
        Assert.Equal("12", root.GetProperty("__metadata__").GetProperty("step").GetString());
        var a = root.GetProperty("a");
        Assert.Equal("I64", a.GetProperty("dtype").GetString());
        Assert.Equal([1L], a.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([0L, 8L], a.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        var b = root.GetProperty("b.weight");
        Assert.Equal("F32", b.GetProperty("dtype").GetString());
        Assert.Equal([3L, 1L], b.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([8L, 20L], b.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        // Tensors are laid out sorted by name: "a" first.
        Assert.Equal(["__metadata__", "a", "b.weight"], root.EnumerateObject().Select(p => p.Name));

        var data = 8 + (int)headerLength;
        Assert.Equal(data + 20, bytes.Length);
        Assert.Equal(7L, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(data)));
        Assert.Equal(1.5f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 8)));
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 12)));
        Assert.Equal(0.25f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(data + 16)));
        // Hand-computed IEEE bits of 1.5f: 0x3FC00000, little-endian.
        Assert.Equal(new byte[] { 0x00, 0x00, 0xC0, 0x3F }, bytes[(data + 8)..(data + 12)]);
    }

    [Fact]
    public void ReadsAFileWrittenByHand()
    {
        // What Python's safetensors writes for {"x": torch.tensor([[1., 2.]], dtype=torch.float16)}.
        var path = PathOf("hand.safetensors");
        File.WriteAllBytes(path, Raw("""{"x":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]}}""", [0x00, 0x3C, 0x00, 0x40]));
        using var read = SafeTensorsFile.Read(path);
        var x = read.Tensors["x"];
        Assert.Equal(ScalarType.Float16, x.dtype);
        Assert.Equal([1L, 2L], x.shape);
        Assert.Equal([1f, 2f], x.to_type(float32).data<float>().ToArray());
        Assert.Empty(read.Metadata);
    }

    [Fact]
    public void ChunkedReadsAndWritesAreBitExact()
    {
        var path = PathOf("chunks.safetensors");
        using var generator = new Generator(3);
        var tensors = new Dictionary<string, Tensor> { ["w"] = randn([7, 13], generator: generator), ["h"] = randn([9], float16, generator: generator) };
        var old = TensorBytes.ChunkBytes;
        TensorBytes.ChunkBytes = 12; // 3 floats, 6 halves per chunk, with a short tail
        try
        {
            SafeTensorsFile.Write(path, tensors);
            using var read = SafeTensorsFile.Read(path);
            TensorAssert.StateDictsBitEqual(tensors, read.Tensors);
        }
        finally
        {
            TensorBytes.ChunkBytes = old;
        }
    }

    [Fact]
    public void ReaderOpensTheHeaderAndReadsTensorsOneAtATime()
    {
        var path = PathOf("lazy.safetensors");
        var tensors = EveryDType();
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { ["k"] = "v" });

        using var reader = SafeTensorsReader.Open(path);
        Assert.Equal("v", reader.Metadata["k"]);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), reader.Tensors.Select(t => t.Name));
        Assert.True(reader.TryGetInfo("bf16", out var info));
        Assert.Equal(ScalarType.BFloat16, info.DType);
        Assert.Equal(16, info.DataEnd - info.DataBegin);
        using (var one = reader.ReadTensor("i64")) TensorAssert.BitEqual(tensors["i64"], one);
        using (var again = reader.ReadTensor("f32")) TensorAssert.BitEqual(tensors["f32"], again);
        Assert.False(reader.Contains("nope"));
        Assert.Throws<KeyNotFoundException>(() => reader.ReadTensor("nope"));
    }

    [Fact]
    public void TheWriterTakesATensorsBytesInPiecesOfAnySize()
    {
        var path = PathOf("pieces.safetensors");
        using var a = tensor(new[] { 1, 2, 3 });
        using var z = tensor(new[] { 0.5f, 4f, -1f });
        var zBytes = TensorBytes.ToArray(z);
        AtomicFile.Write(path, stream =>
        {
            using var writer = new SafeTensorsWriter(stream, [new TensorSpec("z", ScalarType.Float32, [3]), new TensorSpec("a", ScalarType.Int32, [3])]);
            writer.Write("a", a);
            writer.WriteBytes("z", zBytes.AsSpan(0, 5));    // pieces need not be whole elements
            Assert.Equal("z", writer.Next!.Name);
            writer.WriteBytes("z", zBytes.AsSpan(5, 7));
            Assert.Null(writer.Next);
            writer.Complete();
        });
        using var read = SafeTensorsFile.Read(path);
        Assert.Equal([1, 2, 3], read.Tensors["a"].data<int>().ToArray());
        Assert.Equal([0.5f, 4f, -1f], read.Tensors["z"].data<float>().ToArray());
    }

    [Fact]
    public void TheWriterRefusesBytesBeyondATensorAndReportsAHalfWrittenOne()
    {
        using var ms = new MemoryStream();
        using var writer = new SafeTensorsWriter(ms, [new TensorSpec("a", ScalarType.Float32, [2]), new TensorSpec("b", ScalarType.Float32, [1])]);
        writer.WriteBytes("a", new byte[6]);
        Assert.Contains("holds 8 bytes; 6 are written and 4 more do not fit", Assert.Throws<InvalidOperationException>(() => writer.WriteBytes("a", new byte[4])).Message);
        using var whole = zeros(2);
        Assert.Contains("half written (6 of 8 bytes)", Assert.Throws<InvalidOperationException>(() => writer.Write("a", whole)).Message);
        Assert.Contains("'b' written out of order: 'a' is next", Assert.Throws<InvalidOperationException>(() => writer.WriteBytes("b", new byte[4])).Message);
        Assert.Contains("starting with 'a' (6 of its 8 bytes written)", Assert.Throws<InvalidOperationException>(() => writer.Complete()).Message);
    }

    [Fact]
    public void TheReaderReadsARangeOfATensorIntoTheCallersBuffer()
    {
        var path = PathOf("range.safetensors");
        using var t = arange(10, float32);
        SafeTensorsFile.Write(path, [new KeyValuePair<string, Tensor>("t", t)]);
        using var reader = SafeTensorsReader.Open(path);
        var buffer = new byte[12];
        reader.ReadBytes("t", 8, buffer);   // elements 2, 3, 4
        Assert.Equal([2f, 3f, 4f], MemoryMarshal.Cast<byte, float>(buffer).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.ReadBytes("t", 32, buffer));
        Assert.Throws<KeyNotFoundException>(() => reader.ReadBytes("u", 0, buffer));
    }

    [Fact]
    public void WriterRefusesMisuse()
    {
        using var ms = new MemoryStream();
        using var writer = new SafeTensorsWriter(ms, [new TensorSpec("a", ScalarType.Float32, [2]), new TensorSpec("b", ScalarType.Float32, [1])]);
        using var b = zeros(1);
        using var wrongShape = zeros(3);
        using var a = zeros(2);
        Assert.Contains("'a' is next", Assert.Throws<InvalidOperationException>(() => writer.Write("b", b)).Message);
        Assert.Contains("[3]", Assert.Throws<ArgumentException>(() => writer.Write("a", wrongShape)).Message);
        writer.Write("a", a);
        Assert.Contains("'b'", Assert.Throws<InvalidOperationException>(writer.Complete).Message);

        Assert.Throws<ArgumentException>(() => new SafeTensorsWriter(new MemoryStream(), [new TensorSpec("x", ScalarType.Float32, [1]), new TensorSpec("x", ScalarType.Float32, [1])]));
        Assert.Throws<ArgumentException>(() => new SafeTensorsWriter(new MemoryStream(), [new TensorSpec("__metadata__", ScalarType.Float32, [1])]));
        Assert.Throws<NotSupportedException>(() => new SafeTensorsWriter(new MemoryStream(), [new TensorSpec("c", ScalarType.ComplexFloat32, [1])]));
    }

    // ---- refusals ---------------------------------------------------------------------------

    private static byte[] Raw(string header, byte[] data, long? lengthField = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(lengthField ?? json.Length));
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    private CheckpointFormatException Refused(byte[] file, string name = "bad.safetensors")
    {
        var path = PathOf(name);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        return e;
    }

    private byte[] ValidFile()
    {
        var path = PathOf("valid.safetensors");
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["a"] = ones(4), ["b"] = ones([2, 3], float64) }, new Dictionary<string, string> { ["m"] = "x" });
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void TruncatedFilesAreRefusedAtEveryCutPoint()
    {
        var file = ValidFile();
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var data = 8 + headerLength;
        foreach (var cut in new[] { 0, 3, 7, 8, 8 + headerLength / 2, data - 1, data, data + 5, data + 16, file.Length - 1 })
        {
            var e = Refused(file[..cut], $"cut{cut}.safetensors");
            Assert.Contains(cut < 8 ? "shorter than the 8-byte" : cut < data ? "exceeds the" : "run past the end", e.Message);
        }
    }

    [Fact]
    public void HeaderLengthLargerThanTheFileIsRefused()
    {
        var file = ValidFile();
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)file.Length);
        var e = Refused(file);
        Assert.Contains($"header length {file.Length} exceeds the {file.Length - 8} bytes", e.Message);
    }

    [Fact]
    public void HugeHeaderLengthsAreRefusedWithoutAllocatingThem()
    {
        var small = Raw("{}", [], lengthField: long.MaxValue);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Refused(small, "huge.safetensors");

        // A (sparse) 160 MB file whose length field claims a 150 MB header: inside the file, above the cap.
        var path = PathOf("sparse.safetensors");
        using (var fs = new FileStream(path, FileMode.CreateNew))
        {
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, 150UL << 20);
            fs.Write(length);
            fs.SetLength(160L << 20);
        }
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsReader.Open(path));
        Assert.Contains($"header length {150L << 20} exceeds the {100L << 20}-byte limit", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "a refused header must not be allocated");
    }

    [Fact]
    public void OffsetsBeyondTheEndAreRefused()
    {
        var e = Refused(Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]));
        Assert.Equal("a", e.TensorName);
        Assert.Contains("[0, 16) run past the end of the 8-byte data region", e.Message);
    }

    [Fact]
    public void ShapeTimesItemSizeMustEqualTheOffsetSpan()
    {
        var e = Refused(Raw("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""", new byte[16]));
        Assert.Contains("shape [3] × 4 bytes (F32) = 12 bytes, but data_offsets [0, 16) span 16 bytes", e.Message);
        var overflow = Refused(Raw("""{"a":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}}""", new byte[8]), "overflow.safetensors");
        Assert.Contains("overflows", overflow.Message);
    }

    [Fact]
    public void OverlappingRangesAreRefused()
    {
        var e = Refused(Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]));
        Assert.Equal("b", e.TensorName);
        Assert.Contains("overlap tensor 'a' at [0, 8)", e.Message);
    }

    [Fact]
    public void HolesInTheDataRegionAreRefused()
    {
        var e = Refused(Raw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]));
        Assert.Contains("hole of 4 bytes", e.Message);
    }

    [Fact]
    public void TrailingGarbageIsRefused()
    {
        var file = ValidFile();
        var e = Refused([.. file, 1, 2, 3]);
        Assert.Contains("3 bytes of trailing garbage", e.Message);
    }

    [Fact]
    public void UnknownDTypesAreRefused()
    {
        var e = Refused(Raw("""{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}""", new byte[1]));
        Assert.Equal("a", e.TensorName);
        Assert.Contains("unknown or unsupported dtype 'F8_E4M3'", e.Message);
    }

    [Fact]
    public void NonJsonHeadersAreRefused()
    {
        Assert.Contains("not valid JSON", Refused(Raw("{\"a\": [1, 2", []), "truncated-json.safetensors").Message);
        Assert.Contains("not valid JSON", Refused(Raw("\u0001\u0002garbage", []), "garbage.safetensors").Message);
        Assert.Contains("not an object", Refused(Raw("[1, 2]", []), "array.safetensors").Message);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "not a non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "not a non-negative")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "not 2")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}""", "end before they begin")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1]}}""", "lacks one of")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}""", "unknown header field 'extra'")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "appears twice")]
    [InlineData("""{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "not a string")]
    [InlineData("""{"a":7}""", "not an object")]
    public void MalformedHeaderEntriesAreRefused(string header, string expected)
    {
        Assert.Contains(expected, Refused(Raw(header, new byte[4])).Message);
    }
}
