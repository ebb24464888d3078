using System.Numerics;
using System.Text;
using TokenformerGen.Checkpoints.Torch;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class PickleReaderTests : TempFolderTest
{
    private static object? Load(byte[] pickle, IReadOnlySet<string>? allowed = null)
        => PickleReader.Load(new MemoryStream(pickle), id => new PyObject(null, id), allowed ?? PickleGlobals.StateDict);

    private static string Refusal(byte[] pickle, IReadOnlySet<string>? allowed = null)
        => Assert.Throws<PickleException>(() => Load(pickle, allowed)).Message;

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
                     "frozen": frozenset([8]), "od": collections.OrderedDict([("x", 1), ("y", 2)]), "same": None}
            shared = [1, 2]
            value["same"] = (shared, shared)
            for protocol in range(6):
                with open(f"{sys.argv[1]}/p{protocol}.pkl", "wb") as f:
                    pickle.dump(value, f, protocol=protocol)
                with open(f"{sys.argv[1]}/custom{protocol}.pkl", "wb") as f:
                    pickle.dump({"custom": Custom()}, f, protocol=protocol)
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
            var same = Assert.IsType<PyTuple>(Get(root, "same"));
            Assert.Same(same[0], same[1]);   // the memo gives back the one list
            // A class of the pickle's own is refused in every protocol (protocols 0 and 1 reach it through copyreg).
            Assert.Matches("global (__main__.Custom|copy_reg._reconstructor|copyreg._reconstructor) is refused", Refusal(File.ReadAllBytes(PathOf($"custom{protocol}.pkl"))));
        }
    }

    // os.system('echo owned'): the classic pickle that runs a command where Python loads it.
    private static PickleBytes SystemCall(PickleBytes callable) => callable.Text("echo owned").Op(0x85, 0x52);

    [Fact]
    public void OsSystemByGlobalIsRefusedWhereItIsNamed()
    {
        var message = Refusal(SystemCall(new PickleBytes().Global("os", "system")).Stop());
        Assert.Contains("pickle byte 2: global os.system is refused", message);
        Assert.Contains("collections.OrderedDict", message);   // the refusal says what is allowed
    }

    [Fact]
    public void OsSystemByStackGlobalIsRefused()
        => Assert.Contains("global os.system is refused", Refusal(SystemCall(new PickleBytes().Text("os").Text("system").Op(0x93)).Stop()));

    [Fact]
    public void InstIsRefused()
        => Assert.Contains("INST os.system (building a class instance, protocol 0) is refused", Refusal(new PickleBytes().Op(0x28).Text("echo owned").Op(0x69).Line("os").Line("system").Stop()));

    [Fact]
    public void ObjIsRefused()
        => Assert.Contains("OBJ (building a class instance, protocol 1) is refused", Refusal(new PickleBytes().Op(0x28, 0x4e, 0x6f).Stop()));

    [Fact]
    public void BuildOnAForeignClassIsRefusedAtItsGlobal()
        // Custom.__new__(Custom) then __setstate__({'x': 1}): refused at the class, before anything is made of it.
        => Assert.Contains("pickle byte 2: global __main__.Custom is refused", Refusal(new PickleBytes().Global("__main__", "Custom").Op(0x29, 0x81, 0x7d, 0x62).Stop()));

    [Fact]
    public void BuildOnAnythingButADictOrARecordIsRefused()
        => Assert.Contains("BUILD (setting the state) of list of 0 is refused", Refusal(new PickleBytes().Op(0x5d, 0x7d, 0x62).Stop()));

    [Fact]
    public void AnAllowedGlobalIsNotCalledForWhatItIsNot()
    {
        // A storage class is a name inside a persistent id, never something to call.
        Assert.Contains("REDUCE of torch.FloatStorage with tuple of 1 is refused", Refusal(SystemCall(new PickleBytes().Global("torch", "FloatStorage")).Stop()));
        Assert.Contains("NEWOBJ of torch.Size", Refusal(new PickleBytes().Global("torch", "Size").Op(0x29, 0x81).Stop()));
        Assert.Contains("REDUCE of 'os', which is not a global", Refusal(new PickleBytes().Text("os").Op(0x29, 0x52).Stop()));
    }

    [Fact]
    public void DeepSpeedRecordsAreInertAndOnlyInDeepSpeedFiles()
    {
        var pickle = new PickleBytes().Global("argparse", "Namespace").Op(0x29, 0x81, 0x7d).Text("lr").Int(1).Op(0x73, 0x62).Stop();
        Assert.Contains("global argparse.Namespace is refused", Refusal(pickle));
        var record = Assert.IsType<PyObject>(Load(pickle, PickleGlobals.DeepSpeed));
        Assert.Equal("argparse.Namespace", record.Type!.ToString());
        Assert.Equal(1L, Get(Dict(record.State), "lr"));
    }

    [Fact]
    public void TuplesNestedAMillionDeepAreRefusedAtTheCap()
    {
        var pickle = new PickleBytes().Op(0x4e);
        for (var i = 0; i < 1_000_000; i++) pickle.Op(0x85);   // ((((None,),),),) … a million deep
        Assert.Contains($"tuples nested {PickleReader.MaxDepth + 1} deep; at most {PickleReader.MaxDepth} are read", Refusal(pickle.Stop()));
    }

    // What a pickle may cost in managed bytes per byte of it, whatever it pushes (docs/reliability.md). Each opcode can
    // make an object, so this is tens of bytes, not 2×: an empty dict was three objects (188 bytes a byte) until AFL++'s
    // large-input probe, now one made whole with its first item.
    private const int ManagedBytesPerPickleByte = 96;

    [Theory]
    [InlineData(new byte[] { 0x7d })]         // EMPTY_DICT
    [InlineData(new byte[] { 0x8f })]         // EMPTY_SET
    [InlineData(new byte[] { 0x5d })]         // EMPTY_LIST
    [InlineData(new byte[] { 0x4e, 0x85 })]   // NONE, TUPLE1: a million one-tuples, each interned
    [InlineData(new byte[] { 0x28 })]         // MARK
    public void AMegabyteOfOneOpcodeCostsAFewWordsPerByte(byte[] op)
    {
        var pickle = new PickleBytes();
        for (var i = 0; i < (1 << 20) / op.Length; i++) pickle.Op(op);
        var bytes = pickle.Stop();
        var before = GC.GetAllocatedBytesForCurrentThread();
        Refusal(bytes);   // STOP with a million values on the stack (or none, for MARK)
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= ManagedBytesPerPickleByte * bytes.Length, $"{allocated:N0} bytes allocated for a {bytes.Length:N0}-byte pickle");
    }

    [Fact]
    public void AMemoIndexOutOfRangeIsRefused()
    {
        Assert.Contains("memo entry 4294967295 was never stored", Refusal(new PickleBytes().Op(0x4e, 0x71, 0, 0x6a, 0xff, 0xff, 0xff, 0xff).Stop()));
        Assert.Contains("memo entry 7 was never stored", Refusal(new PickleBytes().Op(0x67).Line("7").Stop()));
    }

    [Fact]
    public void NumbersThatAreNotNumbersOrTooLongAreRefused()
    {
        Assert.Contains("INT argument '12x' is not an integer", Refusal(new PickleBytes().Op(0x49).Line("12x").Stop()));
        Assert.Contains("FLOAT argument 'one' is not a number", Refusal(new PickleBytes().Op(0x46).Line("one").Stop()));
        Assert.Contains("bad GET index", Refusal(new PickleBytes().Op(0x67).Line("01").Stop()));
        Assert.Contains($"integers of more than {PickleReader.MaxIntegerDigits} digits are refused", Refusal(new PickleBytes().Op(0x4c).Line(new string('9', 5000) + "L").Stop()));
        Assert.Contains($"integers of more than {PickleReader.MaxIntegerDigits} digits are refused", Refusal(new PickleBytes().Op(0x8b, 0, 0, 1, 0).Op(new byte[65536]).Stop()));
        Assert.Equal(BigInteger.Pow(10, 4299), Load(new PickleBytes().Op(0x4c).Line("1" + new string('0', 4299) + "L").Stop()));
    }

    [Fact]
    public void BrokenEscapesAreRefused()
    {
        Assert.Contains("has an escape Python's repr does not write", Refusal(new PickleBytes().Op(0x53).Line("'\\q'").Stop()));
        Assert.Contains("is past U+10FFFF", Refusal(new PickleBytes().Op(0x56).Line("\\U00110000").Stop()));
        Assert.Equal("a\uFFFDb", Load(new PickleBytes().Op(0x56).Line("a\\ud800b").Stop()));   // a lone surrogate, as Python allows
    }

    [Fact]
    public void KeysChosenToCollideStillLoadInLinearTime()
    {
        // 2^32·k + k: one hash for every k under the old hash (the two halves xor-ed); 50,000 of them took minutes.
        var pickle = new PickleBytes().Op(0x7d, 0x28);
        for (long k = 0; k < 50_000; k++)
        {
            pickle.Op(0x8a, 8).Op(BitConverter.GetBytes((k << 32) | k)).Op(0x4e);
        }
        Assert.Equal(50_000, Dict(Load(pickle.Op(0x75).Stop())).Count);
        // What made it slow, checked without a clock: the keys' hashes no longer coincide.
        var hashes = Enumerable.Range(0, 50_000).Select(k => PyKeyComparer.Instance.GetHashCode((object)(((long)k << 32) | (long)k))).Distinct().Count();
        Assert.InRange(hashes, 49_000, 50_000);
    }

    [Fact]
    public void EqualTuplesBuiltTwiceAreOneKeyAndCompareInOneStep()
    {
        // Two separately built 60-deep tuples of pairs, each standing for 2^60 leaves: as keys they are one, found at once.
        static PickleBytes Tower(PickleBytes p)
        {
            p.Op(0x4e);
            for (var i = 0; i < 60; i++) p.Op(0x32, 0x86);   // DUP, TUPLE2: (t, t)
            return p;
        }
        var pickle = Tower(new PickleBytes().Op(0x7d)).Int(1).Op(0x73);
        // Compared leaf by leaf this would not finish; no clock needed to tell.
        var dict = Dict(Load(Tower(pickle).Int(2).Op(0x73).Stop()));
        Assert.Equal(1, dict.Count);
        Assert.Equal(2L, dict.Items.Single().Value);
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 2, 0x4b }, "ended inside an opcode")]
    [InlineData(new byte[] { 0x80, 2, 0x4e }, "ended before its STOP")]
    [InlineData(new byte[] { 0x80, 2, 0xff, 0x2e }, "pickle byte 2: unknown opcode 0xFF")]
    [InlineData(new byte[] { 0x80, 2, 0x82, 1, 0x2e }, "extension registry")]
    [InlineData(new byte[] { 0x80, 2, 0x68, 5, 0x2e }, "memo entry 5 was never stored")]
    [InlineData(new byte[] { 0x80, 2, 0x30, 0x2e }, "stack underflow")]
    [InlineData(new byte[] { 0x80, 2, 0x4e, 0x4e, 0x28, 0x86, 0x74, 0x2e }, "pickle byte 5: stack underflow")]   // TUPLE2 below a MARK (found by AFL++)
    [InlineData(new byte[] { 0x80, 2, 0x4e, 0x4e, 0x2e }, "STOP with 2 values")]
    public void MalformedPicklesAreOneClearError(byte[] pickle, string expected)
        => Assert.Contains(expected, Assert.Throws<PickleException>(() => Load(pickle)).Message);
}
