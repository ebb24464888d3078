using System.Numerics;
using System.Text;
using TokenformerGen.Checkpoints.Torch;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class PickleReaderTests : TempFolderTest
{
    private static object? Load(byte[] pickle) => PickleReader.Load(new MemoryStream(pickle), id => new PyObject(null, id));

    private static PyDict Dict(object? value) => Assert.IsType<PyDict>(value);

    private static object? Get(PyDict dict, string key) => dict.TryGet(key, out var value) ? value : throw new Xunit.Sdk.XunitException($"no key '{key}'");

    [Fact]
    public void ReadsEveryProtocolPythonWrites()
    {
        if (Python.Find() is not { } python) return;   // optional cross-check: Python writes, we read
        const string script = """
            import collections, pickle, sys
            class Custom:
                def __init__(self): self.x = 1
            value = {"ints": [0, 1, 255, 256, 65535, 65536, -1, 2**31, 2**40, -2**70], "float": 1.5, "flags": (True, False, None),
                     "text": "é\n", "bytes": b"\x00\xff", "tuple": (1, (2, 3)), "nested": {"n": [3]}, "set": {7},
                     "frozen": frozenset([8]), "od": collections.OrderedDict([("x", 1), ("y", 2)]), "custom": Custom(), "same": None}
            shared = [1, 2]
            value["same"] = (shared, shared)
            for protocol in range(6):
                with open(f"{sys.argv[1]}/p{protocol}.pkl", "wb") as f:
                    pickle.dump(value, f, protocol=protocol)
            """;
        Python.Run(python, Folder, script, Folder);
        for (var protocol = 0; protocol <= 5; protocol++)
        {
            var root = Dict(Load(File.ReadAllBytes(PathOf($"p{protocol}.pkl"))));
            var ints = Assert.IsType<List<object?>>(Get(root, "ints"));
            Assert.Equal(new object?[] { 0L, 1L, 255L, 256L, 65535L, 65536L, -1L, 2147483648L, 1L << 40, -BigInteger.Pow(2, 70) }, ints);
            Assert.Equal(1.5, Get(root, "float"));
            Assert.Equal(new object?[] { true, false, null }, Assert.IsType<PyTuple>(Get(root, "flags")).Items);
            Assert.Equal("é\n", Get(root, "text"));
            Assert.Equal(new byte[] { 0, 0xFF }, Get(root, "bytes"));
            Assert.Equal(new PyTuple([1L, new PyTuple([2L, 3L])]), Get(root, "tuple"));
            Assert.Equal([3L], Assert.IsType<List<object?>>(Get(Dict(Get(root, "nested")), "n")));
            Assert.Equal([7L], Assert.IsType<PySet>(Get(root, "set")).Items);
            Assert.Equal([8L], Assert.IsType<PySet>(Get(root, "frozen")).Items);
            var od = Dict(Get(root, "od"));
            Assert.Equal(["x", "y"], od.Items.Select(kv => kv.Key));
            var custom = Assert.IsType<PyObject>(Get(root, "custom"));
            Assert.Equal("__main__.Custom", custom.Type?.ToString());
            Assert.Equal(1L, Get(Dict(custom.State), "x"));
            var same = Assert.IsType<PyTuple>(Get(root, "same"));
            Assert.Same(same[0], same[1]);   // the memo gives back the one list
        }
    }

    [Fact]
    public void UnknownClassesBecomePlaceholdersAndNothingIsCalled()
    {
        // PROTO 2; GLOBAL os.system; ('rm -rf /',) REDUCE; STOP — a pickle that would run a command in Python.
        var pickle = new List<byte> { 0x80, 2, 0x63 };
        pickle.AddRange(Encoding.ASCII.GetBytes("os\nsystem\n"));
        pickle.Add(0x58);
        pickle.AddRange(BitConverter.GetBytes(8));
        pickle.AddRange(Encoding.ASCII.GetBytes("rm -rf /"));
        pickle.AddRange([0x85, 0x52, 0x2e]);
        var value = Assert.IsType<PyObject>(Load([.. pickle]));
        Assert.Equal("os.system", value.Type!.ToString());
        Assert.Equal("rm -rf /", Assert.IsType<PyTuple>(value.Arguments)[0]);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, 0x4b }, "ended inside an opcode")]
    [InlineData(new byte[] { 0x80, 2, 0x4e }, "ended before its STOP")]
    [InlineData(new byte[] { 0x80, 2, 0xff, 0x2e }, "pickle byte 2: unknown opcode 0xFF")]
    [InlineData(new byte[] { 0x80, 2, 0x82, 1, 0x2e }, "extension registry")]
    [InlineData(new byte[] { 0x80, 2, 0x68, 5, 0x2e }, "memo entry 5 was never stored")]
    [InlineData(new byte[] { 0x80, 2, 0x30, 0x2e }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, 0x4e, 0x4e, 0x2e }, "STOP with 2 values")]
    public void MalformedPicklesAreOneClearError(byte[] pickle, string expected)
        => Assert.Contains(expected, Assert.Throws<PickleException>(() => Load(pickle)).Message);
}
