using System.IO.Compression;
using System.Text.Json;
using TokenformerGen.Checkpoints;
using TokenformerGen.Handoff;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class DeepSpeedCheckpointTests : TempFolderTest
{
    private const int Layers = 2;

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Checkpoints", "TestData", "deepspeed-trainer-save");

    private string ModelFile(string dir, long step) => Path.Combine(dir, DeepSpeedCheckpoint.TagFor(step), DeepSpeedCheckpoint.ModelStatesFile);

    [Fact]
    public void OursToDeepSpeedToOursIsBitExact()
    {
        using var original = new TinyTokenformer(Layers).Randomize(1);
        var ours = PathOf("model.safetensors");
        Checkpoint.Save(ours, original, new CheckpointMetadata("tiny", "s0", "h", 0));
        using var loaded = new TinyTokenformer(Layers).Randomize(2);
        Checkpoint.Load(ours, loaded);

        var dir = PathOf("ds");
        var file = DeepSpeedCheckpoint.Write(dir, loaded.state_dict(), Layers, step: 1234);
        Assert.Equal(ModelFile(dir, 1234), file);
        Assert.Equal("global_step1234", File.ReadAllText(Path.Combine(dir, "latest")));

        using var imported = new TinyTokenformer(Layers).Randomize(3);
        var read = DeepSpeedCheckpoint.Import(dir, imported.state_dict(), Layers);
        Assert.Equal(("global_step1234", "F32", 1L), (read.Tag, read.StoredDType, read.DataParallelWorldSize));
        Assert.Empty(read.Ignored);

        var again = PathOf("again.safetensors");
        Checkpoint.Save(again, imported, new CheckpointMetadata("tiny", "s0", "h", 0));
        using var a = SafeTensorsFile.Read(ours);
        using var b = SafeTensorsFile.Read(again);
        TensorAssert.StateDictsBitEqual(a.Tensors, b.Tensors);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void HalfPrecisionWeightsAreWidenedExactly()
    {
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var half = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to_type(ScalarType.Float16));
        DeepSpeedCheckpoint.Write(PathOf("ds"), half, Layers, 0);
        using var read = DeepSpeedCheckpoint.Read(PathOf("ds"), Layers);
        foreach (var (name, t) in half)
        {
            Assert.Equal(ScalarType.Float32, read.Tensors[name].dtype);
            TensorAssert.BitEqual(t, read.Tensors[name].to_type(ScalarType.Float16), name);
        }
    }

    [Fact]
    public void TheFileIsAStoredTorchZipWithModuleAndWorldSizesOnly()
    {
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var file = DeepSpeedCheckpoint.Write(PathOf("ds"), model.state_dict(), Layers, 7);
        using var zip = ZipFile.OpenRead(file);
        string[] expected = ["archive/byteorder", "archive/data.pkl", "archive/version", .. Enumerable.Range(0, OfficialLayout.OurNames(Layers).Count).Select(i => $"archive/data/{i}")];
        Assert.Equal(expected.Order(StringComparer.Ordinal), zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));   // stored, as torch.save writes
        var names = OfficialLayout.OurNames(Layers);
        var stateDict = model.state_dict();
        for (var i = 0; i < names.Count; i++)
        {
            using var entry = zip.GetEntry($"archive/data/{i}")!.Open();
            using var ms = new MemoryStream();
            entry.CopyTo(ms);
            Assert.True(TensorAssert.Raw(stateDict[names[i]]).AsSpan().SequenceEqual(ms.ToArray()), $"data/{i} is not {names[i]}");
        }
    }

    [Fact]
    public void PythonsPickleReadsTheDictAsDeepSpeedWould()
    {
        if (Python.Find() is not { } python) return;   // optional cross-check
        using var model = new TinyTokenformer(Layers).Randomize(1);
        var file = DeepSpeedCheckpoint.Write(PathOf("ds"), model.state_dict(), Layers, 7);
        const string script = """
            import collections, json, pickle, struct, sys, zipfile
            def rebuild(storage, offset, size, stride, requires_grad, hooks, *rest):
                return {"storage": storage, "offset": offset, "shape": list(size), "stride": list(stride), "grad": requires_grad, "hooks": len(hooks)}
            class Stub(pickle.Unpickler):
                def find_class(self, module, name):
                    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"): return rebuild
                    if (module, name) == ("collections", "OrderedDict"): return collections.OrderedDict
                    if module == "torch" and name.endswith("Storage"): return name
                    raise pickle.UnpicklingError(module + "." + name)
                def persistent_load(self, pid):
                    kind, storage_type, key, location, numel = pid
                    return {"type": storage_type, "key": key, "location": location, "numel": numel}
            z = zipfile.ZipFile(sys.argv[1])
            state = Stub(z.open("archive/data.pkl")).load()
            module = state["module"]
            out = {"keys": list(state.keys()), "ordered": type(module).__name__, "dp": state["dp_world_size"], "mp": state["mp_world_size"],
                   "version": z.read("archive/version").decode(), "byteorder": z.read("archive/byteorder").decode(), "tensors": []}
            for name, t in module.items():
                raw = z.read("archive/data/" + t["storage"]["key"])
                out["tensors"].append({"name": name, "type": t["storage"]["type"], "location": t["storage"]["location"], "shape": t["shape"],
                    "stride": t["stride"], "offset": t["offset"], "grad": t["grad"], "hooks": t["hooks"], "bytes": len(raw),
                    "numel": t["storage"]["numel"], "first": struct.unpack("<f", raw[:4])[0]})
            print(json.dumps(out))
            """;
        using var json = JsonDocument.Parse(Python.Run(python, Folder, script, file));
        var root = json.RootElement;
        Assert.Equal(["module", "dp_world_size", "mp_world_size"], root.GetProperty("keys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("OrderedDict", root.GetProperty("ordered").GetString());
        Assert.Equal((1, 1), (root.GetProperty("dp").GetInt32(), root.GetProperty("mp").GetInt32()));
        Assert.Equal(("3\n", "little"), (root.GetProperty("version").GetString(), root.GetProperty("byteorder").GetString()));
        var stateDict = model.state_dict();
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(OfficialLayout.OfficialNames(Layers), tensors.Select(t => t.GetProperty("name").GetString()));
        foreach (var t in tensors)
        {
            var tensor = stateDict[OfficialLayout.ToOurs(t.GetProperty("name").GetString()!, Layers)];
            Assert.Equal(("FloatStorage", "cpu"), (t.GetProperty("type").GetString(), t.GetProperty("location").GetString()));
            Assert.Equal(tensor.shape, t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal(tensor.stride(), t.GetProperty("stride").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal((0, false, 0), (t.GetProperty("offset").GetInt32(), t.GetProperty("grad").GetBoolean(), t.GetProperty("hooks").GetInt32()));
            Assert.Equal(tensor.NumberOfElements * 4, t.GetProperty("bytes").GetInt64());
            Assert.Equal(tensor.NumberOfElements, t.GetProperty("numel").GetInt64());
            Assert.Equal(tensor.view(-1)[0].item<float>(), (float)t.GetProperty("first").GetDouble());
        }
    }

    [Fact]
    public void ReadsAFileShapedLikeTheTrainersOwnSave()
    {
        // TestData/make_deepspeed_fixture.py: fp16 views into one flat storage (offset 8, model order), element k =
        // ((k·37) mod 101 − 50)/16; the embedding a bfloat16 transposed view, element k = (k mod 23 − 11)/8; and every
        // entry DeeperSpeed and megatron save beside the module, including a pickled DeepSpeedConfig and numpy RNG state.
        using var read = DeepSpeedCheckpoint.Read(Fixture, layers: 1);
        Assert.Equal(("global_step500", "BF16+F16", 8L), (read.Tag, read.StoredDType, read.DataParallelWorldSize));
        Assert.Contains("ds_config", read.Ignored);
        Assert.Contains("np_rng_state", read.Ignored);
        Assert.Contains("param_shapes", read.Ignored);
        Assert.Equal(22, read.Ignored.Count);   // 25 entries: 18 of DeepSpeedEngine._save_checkpoint and 7 of megatron's client state, less the three read

        var embedding = read.Tensors["word_embeddings.weight"];
        Assert.Equal([11L, 4], embedding.shape);
        for (var row = 0; row < 11; row++)
            for (var col = 0; col < 4; col++)
                Assert.Equal(((row + col * 11) % 23 - 11) / 8.0f, embedding[row, col].item<float>());

        long k = 8;
        foreach (var name in OfficialLayout.OurNames(1).Where(n => n != "word_embeddings.weight"))
        {
            var t = read.Tensors[name];
            Assert.Equal(ScalarType.Float32, t.dtype);
            var values = t.data<float>().ToArray();
            for (var i = 0; i < values.Length; i++, k++)
                Assert.True(((k * 37) % 101 - 50) / 16.0f == values[i], $"{name}[{i}] is {values[i]}, storage element {k} is {((k * 37) % 101 - 50) / 16.0}");
        }
        Assert.Equal(8 + 176 - 8, k);
    }

    private string WriteTiny(string dir)
    {
        using var model = new TinyTokenformer(Layers).Randomize(1);
        return DeepSpeedCheckpoint.Write(dir, model.state_dict(), Layers, 3);
    }

    private static string Error(string dir, int layers = Layers)
        => Assert.ThrowsAny<Exception>(() => DeepSpeedCheckpoint.Read(dir, layers).Dispose()) switch
        {
            CheckpointFormatException f => f.Message,
            CheckpointMismatchException m => m.Message,
            var other => throw new Xunit.Sdk.XunitException($"unexpected {other.GetType().Name}: {other.Message}"),
        };

    [Fact]
    public void WithoutLatestItIsRefusedAndTheTagsAreNamed()
    {
        var dir = PathOf("ds");
        WriteTiny(dir);
        File.Delete(Path.Combine(dir, "latest"));
        var message = Error(dir);
        Assert.Contains("no 'latest'", message);
        Assert.Contains("start from scratch", message);
        Assert.Contains("global_step3", message);
    }

    [Fact]
    public void LatestNamingAMissingTagIsRefused()
    {
        var dir = PathOf("ds");
        WriteTiny(dir);
        File.WriteAllText(Path.Combine(dir, "latest"), "global_step9");
        Assert.Contains("names tag 'global_step9'", Error(dir));
    }

    [Fact]
    public void PipelineParallelLayerFilesAreRefused()
    {
        var dir = PathOf("ds");
        WriteTiny(dir);
        File.WriteAllText(Path.Combine(dir, "global_step3", "layer_02-model_00-model_states.pt"), "");
        Assert.Contains("pipeline-parallel layer_XX", Error(dir));
    }

    [Fact]
    public void ModelParallelRanksAreRefused()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        File.Copy(file, Path.Combine(dir, "global_step3", "mp_rank_01_model_states.pt"));
        Assert.Contains("model-parallel ranks (mp_rank_01_model_states.pt)", Error(dir));
    }

    [Fact]
    public void ZeroStage3PartitionsAreRefusedWithTheWayOut()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        File.Move(file, Path.Combine(dir, "global_step3", "zero_pp_rank_0_mp_rank_00_model_states.pt"));
        Assert.Contains("zero_to_fp32.py", Error(dir));
    }

    [Fact]
    public void AFileThatIsNotATorchZipIsRefused()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        File.WriteAllBytes(file, [0x80, 2, 0x7d, 0x2e]);   // a bare pickle: the pre-1.6 format
        Assert.Contains("not a torch.save zip archive", Error(dir));
    }

    [Fact]
    public void ATruncatedPickleIsRefusedWithItsOffset()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        RewritePickle(file, pickle => pickle[..40]);
        var message = Error(dir);
        Assert.Contains("data.pkl cannot be read", message);
        Assert.Contains("ended", message);
    }

    [Fact]
    public void TheWrongLayerCountListsTheNames()
    {
        var dir = PathOf("ds");
        WriteTiny(dir);
        var message = Error(dir, layers: 1);
        Assert.Contains("sequential.3.attention", message);
    }

    [Fact]
    public void ModelParallelWorldSizeAboveOneIsRefused()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        // mp_world_size is the last entry: … BININT1 1 SETITEMS STOP → BININT1 2.
        RewritePickle(file, pickle => { var p = pickle.ToArray(); Assert.Equal((0x4b, 1), (p[^4], p[^3])); p[^3] = 2; return p; });
        Assert.Contains("model parallelism 2", Error(dir));
    }

    [Fact]
    public void ANonFloatOrMissingModuleIsRefused()
    {
        var dir = PathOf("ds");
        var file = WriteTiny(dir);
        RewritePickle(file, pickle => ReplaceAscii(pickle, "FloatStorage", "LongStorage"));
        Assert.Contains("torch.LongStorage; weights are read from float16, bfloat16 or float32", Error(dir));

        file = WriteTiny(dir);
        RewritePickle(file, pickle => ReplaceAscii(pickle, "module", "moduXe"));
        Assert.Contains("has no 'module'", Error(dir));
    }

    private static byte[] ReplaceAscii(byte[] data, string from, string to)
    {
        var text = System.Text.Encoding.Latin1.GetString(data);
        Assert.Contains(from, text);
        return System.Text.Encoding.Latin1.GetBytes(text.Replace(from, to, StringComparison.Ordinal));
    }

    private static void RewritePickle(string file, Func<byte[], byte[]> change)
    {
        using var zip = ZipFile.Open(file, ZipArchiveMode.Update);
        var entry = zip.GetEntry("archive/data.pkl")!;
        byte[] pickle;
        using (var s = entry.Open())
        using (var ms = new MemoryStream())
        {
            s.CopyTo(ms);
            pickle = ms.ToArray();
        }
        entry.Delete();
        using var replaced = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open();
        replaced.Write(change(pickle));
    }
}
