using System.Collections.Specialized;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using TokenformerGen.Checkpoints;
using TokenformerGen.Handoff;
using TorchSharp.PyBridge;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class OfficialCheckpointTests : TempFolderTest
{
    private const int Layers = 2;

    [Fact]
    public void WriteThenReadIsBitExact()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        using var model = new TinyTokenformer(Layers).Randomize(1);
        OfficialCheckpoint.Export(path, model, Layers);
        Assert.Equal([OfficialCheckpoint.FileName], FilesInFolder());

        var read = OfficialCheckpoint.Read(path, Layers);
        TensorAssert.StateDictsBitEqual(model.state_dict(), read);
        foreach (var t in read.Values) t.Dispose();
    }

    [Fact]
    public void OursToOfficialToOursIsBitExact()
    {
        using var original = new TinyTokenformer(Layers).Randomize(1);
        var ours = PathOf("model.safetensors");
        Checkpoint.Save(ours, original, new CheckpointMetadata("tiny", "s0", "h", 0));

        using var loaded = new TinyTokenformer(Layers).Randomize(2);
        Checkpoint.Load(ours, loaded);
        var official = PathOf(OfficialCheckpoint.FileName);
        OfficialCheckpoint.Export(official, loaded, Layers);

        using var imported = new TinyTokenformer(Layers).Randomize(3);
        OfficialCheckpoint.Import(official, imported, Layers);
        TensorAssert.StateDictsBitEqual(original.state_dict(), imported.state_dict());

        var again = PathOf("again.safetensors");
        Checkpoint.Save(again, imported, new CheckpointMetadata("tiny", "s0", "h", 0));
        using var a = SafeTensorsFile.Read(ours);
        using var b = SafeTensorsFile.Read(again);
        TensorAssert.StateDictsBitEqual(a.Tensors, b.Tensors);
    }

    [Fact]
    public void TheZipHoldsAPickleAndOneRawStoragePerTensorInModelOrder()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var stateDict = model.state_dict();
        OfficialCheckpoint.Export(path, model, Layers);

        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        var prefix = names.Single(n => n.EndsWith("/data.pkl", StringComparison.Ordinal))[..^"data.pkl".Length];
        Assert.All(names, n => Assert.StartsWith(prefix, n)); // one top-level folder, as torch.load requires
        Assert.DoesNotContain("/", prefix.TrimEnd('/'));
        var storages = names.Where(n => n.StartsWith(prefix + "data/", StringComparison.Ordinal)).ToList();
        var ourNames = OfficialLayout.OurNames(Layers);
        Assert.Equal(Enumerable.Range(0, ourNames.Count).Select(i => $"{prefix}data/{i}").Order(StringComparer.Ordinal), storages.Order(StringComparer.Ordinal));

        for (var i = 0; i < ourNames.Count; i++)
        {
            using var entry = zip.GetEntry($"{prefix}data/{i}")!.Open();
            using var ms = new MemoryStream();
            entry.CopyTo(ms);
            Assert.True(TensorAssert.Raw(stateDict[ourNames[i]]).AsSpan().SequenceEqual(ms.ToArray()), $"data/{i} is not {ourNames[i]}");
        }
        using var pickle = zip.GetEntry(prefix + "data.pkl")!.Open();
        Assert.Equal(0x80, pickle.ReadByte()); // pickle PROTO opcode
    }

    [Fact]
    public void PythonsPickleReadsTheOfficialNamesShapesAndBytes()
    {
        var python = Python.Find();
        if (python is null) return; // optional cross-check: nothing to run it with

        var path = PathOf(OfficialCheckpoint.FileName);
        using var model = new TinyTokenformer(Layers).Randomize(1);
        OfficialCheckpoint.Export(path, model, Layers);

        const string script = """
            import json, pickle, struct, sys, zipfile
            def rebuild(storage, offset, size, stride, requires_grad, hooks, *rest):
                return {"storage": storage, "offset": offset, "shape": list(size), "stride": list(stride), "grad": requires_grad}
            class Stub(pickle.Unpickler):
                def find_class(self, module, name):
                    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"): return rebuild
                    if (module, name) == ("collections", "OrderedDict"): return dict
                    if module == "torch" and name.endswith("Storage"): return name
                    raise pickle.UnpicklingError(module + "." + name)
                def persistent_load(self, pid):
                    kind, storage_type, key, location, numel = pid
                    assert kind == "storage" and location == "cpu", pid
                    return {"type": storage_type, "key": key, "numel": numel}
            z = zipfile.ZipFile(sys.argv[1])
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            prefix = pkl[:-len("data.pkl")]
            state = Stub(z.open(pkl)).load()
            out = []
            for name, t in state.items():
                raw = z.read(prefix + "data/" + t["storage"]["key"])
                out.append({"name": name, "type": t["storage"]["type"], "shape": t["shape"], "offset": t["offset"],
                            "stride": t["stride"], "grad": t["grad"], "numel": t["storage"]["numel"], "bytes": len(raw),
                            "first": struct.unpack("<f", raw[:4])[0]})
            print(json.dumps(out))
            """;
        var scriptPath = PathOf("check.py");
        File.WriteAllText(scriptPath, script);
        var info = new ProcessStartInfo(python, [scriptPath, path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), "python timed out");
        Assert.True(process.ExitCode == 0, stderr);

        using var json = JsonDocument.Parse(stdout);
        var entries = json.RootElement.EnumerateArray().ToList();
        var stateDict = model.state_dict();
        Assert.Equal(OfficialLayout.OfficialNames(Layers), entries.Select(e => e.GetProperty("name").GetString()));
        foreach (var e in entries)
        {
            var tensor = stateDict[OfficialLayout.ToOurs(e.GetProperty("name").GetString()!, Layers)];
            Assert.Equal("FloatStorage", e.GetProperty("type").GetString());
            Assert.Equal(tensor.shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal(tensor.stride(), e.GetProperty("stride").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal(0, e.GetProperty("offset").GetInt64());
            Assert.False(e.GetProperty("grad").GetBoolean());
            Assert.Equal(tensor.NumberOfElements, e.GetProperty("numel").GetInt64());
            Assert.Equal(tensor.NumberOfElements * 4, e.GetProperty("bytes").GetInt64());
            Assert.Equal(tensor.view(-1)[0].item<float>(), (float)e.GetProperty("first").GetDouble());
        }
    }

    [Fact]
    public void AnIndependentTorchSaveImplementationReadsOursAndWritesWhatOursReads()
    {
        // TorchSharp.PyBridge's pickler is a second implementation of the format, written apart from ours.
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var official = model.state_dict().Select(kv => KeyValuePair.Create(OfficialLayout.ToOfficial(kv.Key, Layers), kv.Value)).ToList();

        var theirs = PathOf("theirs.bin");
        WriteRawOfficial(theirs, official);
        var read = OfficialCheckpoint.Read(theirs, Layers);
        TensorAssert.StateDictsBitEqual(model.state_dict(), read);
        foreach (var t in read.Values) t.Dispose();

        var ours = PathOf(OfficialCheckpoint.FileName);
        OfficialCheckpoint.Export(ours, model, Layers);
        using var stream = File.OpenRead(ours);
        var table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: false);
        Assert.Equal(official.Select(kv => kv.Key).Order(StringComparer.Ordinal), table.Keys.Cast<string>().Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in official)
        {
            using var back = (Tensor)table[name]!;
            TensorAssert.BitEqual(tensor, back, name);
        }
    }

    private void WriteRawOfficial(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var dict = new OrderedDictionary();
        foreach (var (name, tensor) in tensors) dict.Add(name, tensor.detach().contiguous());
        using var stream = File.Create(path);
        PyTorchPickler.PickleStateDict(stream, dict, leaveOpen: true);
    }

    [Fact]
    public void ImportRefusesMissingExtraAndMisshapenTensorsAllAtOnce()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        using var source = new TinyTokenformer(Layers, nFfn: 6).Randomize(1);
        var official = source.state_dict()
            .Where(kv => kv.Key != "layers.1.attention.key.value_param_tokens")
            .Select(kv => KeyValuePair.Create(OfficialLayout.ToOfficial(kv.Key, Layers), kv.Value))
            .Append(KeyValuePair.Create("sequential.1.input_layernorm.weight", ones(4)))
            .ToList();
        WriteRawOfficial(path, official);

        using var target = new TinyTokenformer(Layers, nFfn: 8).Randomize(2);
        var before = TensorAssert.Snapshot(target.state_dict());
        var e = Assert.Throws<CheckpointMismatchException>(() => OfficialCheckpoint.Import(path, target, Layers));
        Assert.Contains("unexpected: 'sequential.1.input_layernorm.weight' is not in the official 2-layer layout", e.Problems[0]);
        Assert.Contains("missing: layers.1.attention.key.value_param_tokens [official sequential.3.attention.key.value_param_tokens] (model expects F32 [3, 4]).", e.Problems);
        Assert.Contains("shape: layers.0.mlp.key_param_tokens [official sequential.2.mlp.key_param_tokens]: file has F32 [6, 4], model expects F32 [8, 4].", e.Problems);
        Assert.Equal(1 + 1 + 4, e.Problems.Count);
        TensorAssert.Unchanged(before, target.state_dict());

        var read = Assert.Throws<CheckpointMismatchException>(() => OfficialCheckpoint.Read(path, Layers));
        Assert.Contains("missing: sequential.3.attention.key.value_param_tokens (ours: layers.1.attention.key.value_param_tokens).", read.Problems);
        Assert.Equal(2, read.Problems.Count);
    }

    [Fact]
    public void ImportWithTheWrongLayerCountNamesTheBlocks()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        using var threeLayers = new TinyTokenformer(3).Randomize(1);
        OfficialCheckpoint.Export(path, threeLayers, 3);
        using var twoLayers = new TinyTokenformer(2).Randomize(2);
        var e = Assert.Throws<CheckpointMismatchException>(() => OfficialCheckpoint.Import(path, twoLayers, 2));
        // A 3-layer file read as 2 layers: block 4 is out of range and its norm sits at 6, not 5.
        Assert.Contains(e.Problems, p => p.Contains("'sequential.4.mlp.key_param_tokens': block index 4 is outside sequential.2..sequential.3"));
        Assert.Contains(e.Problems, p => p.StartsWith("missing: final_norm.weight", StringComparison.Ordinal));
    }

    [Fact]
    public void CorruptFilesAreRefusedWithTheirPath()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        File.WriteAllBytes(path, []);
        Assert.Contains("not a torch.save zip archive", Assert.Throws<CheckpointFormatException>(() => OfficialCheckpoint.Read(path, Layers)).Message);
        File.WriteAllBytes(path, new byte[100]);
        Assert.Contains("not a torch.save zip archive", Assert.Throws<CheckpointFormatException>(() => OfficialCheckpoint.Read(path, Layers)).Message);

        using var model = new TinyTokenformer(Layers).Randomize(1);
        OfficialCheckpoint.Export(path, model, Layers);
        var bytes = File.ReadAllBytes(path);
        foreach (var cut in new[] { 30, bytes.Length / 2, bytes.Length - 10 })
        {
            var truncated = PathOf($"cut{cut}.bin");
            File.WriteAllBytes(truncated, bytes[..cut]);
            var e = Assert.Throws<CheckpointFormatException>(() => OfficialCheckpoint.Read(truncated, Layers));
            Assert.Equal(truncated, e.FilePath);
        }
    }

    [Fact]
    public void WriteRefusesIncompleteOrForeignStateDictsAndWidensHalfPrecision()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var stateDict = model.state_dict();

        var incomplete = stateDict.Where(kv => kv.Key != "final_norm.bias").Append(KeyValuePair.Create("lm_head.weight", ones(3))).ToDictionary();
        var e = Assert.Throws<CheckpointMismatchException>(() => OfficialCheckpoint.Write(path, incomplete, Layers));
        Assert.Contains(e.Problems, p => p.StartsWith("unexpected: 'lm_head.weight'", StringComparison.Ordinal));
        Assert.Contains("missing: final_norm.bias (official: sequential.5.norm.bias).", e.Problems);
        Assert.False(File.Exists(path));

        var asDouble = stateDict.ToDictionary(kv => kv.Key, kv => kv.Key == "final_norm.bias" ? kv.Value.to_type(float64) : kv.Value);
        Assert.Contains("dtype: final_norm.bias is F64", Assert.Throws<CheckpointMismatchException>(() => OfficialCheckpoint.Write(path, asDouble, Layers)).Problems.Single());

        var asBFloat16 = stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(bfloat16));
        OfficialCheckpoint.Write(path, asBFloat16, Layers);
        var read = OfficialCheckpoint.Read(path, Layers);
        foreach (var (name, t) in asBFloat16)
        {
            Assert.Equal(ScalarType.Float32, read[name].dtype);
            TensorAssert.BitEqual(t, read[name].to_type(bfloat16), name);
        }
    }
}
