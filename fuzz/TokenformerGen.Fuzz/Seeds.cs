using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using TokenformerGen.Checkpoints;
using TokenformerGen.Data;
using TokenformerGen.Handoff;
using TokenformerGen.Inference;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Onnx;
using static TorchSharp.torch;

namespace TokenformerGen.Fuzz;

/// <summary>
/// Writes each target's seed corpus with the library's own writers (the files the tests make), the trainer-shaped
/// DeepSpeed fixture the tests read, the families shipped in the repository and a cut-down copy of the shipped
/// GPT-NeoX-20B <c>tokenizer.json</c>. Seeds are small on purpose: AFL mutates faster the fewer bytes it has.
/// </summary>
internal static class Seeds
{
    public static void Write(string repository, string corpus)
    {
        Write(corpus, "safetensors", SafeTensorsSeeds());
        var official = Folder(corpus, "official");
        using (var model = TinyModel(ScalarType.Float32))
            OfficialCheckpoint.Write(Path.Combine(official, "tiny-float32.bin"), model.Value, ReaderTargets.Layers);

        var deepspeed = Folder(corpus, "deepspeed");
        using (var model = TinyModel(ScalarType.Float32))
        {
            var scratch = Directory.CreateTempSubdirectory("tfg-seed-").FullName;
            var file = DeepSpeedCheckpoint.Write(scratch, model.Value, ReaderTargets.Layers, 1);
            File.Copy(file, Path.Combine(deepspeed, "ours.pt"), overwrite: true);
            Directory.Delete(scratch, recursive: true);
        }
        var trainer = Path.Combine(repository, "tests/TokenformerGen.Tests/Checkpoints/TestData/deepspeed-trainer-save/global_step500", DeepSpeedCheckpoint.ModelStatesFile);
        File.Copy(trainer, Path.Combine(deepspeed, "trainer-shaped.pt"), overwrite: true);

        Write(corpus, "neox", NeoXSeeds());
        Write(corpus, "tokenizer", [("neox-20b-cut.json", CutNeoXTokenizer(600))]);
        var card = new OnnxModelCard("Tiny", "Small", new string('0', 64), 12, "model.onnx", null, 17, "byte", null, 256, 256, 32, 1, 2, 8, 16,
            "input_ids", "past_key_values.{layer}.key", "past_key_values.{layer}.value", "logits", "present.{layer}.key", "present.{layer}.value");
        Write(corpus, "onnx-card", [("card.json", System.Text.Encoding.UTF8.GetBytes(card.ToJson()))]);
        var spec = Folder(corpus, "spec");
        foreach (var family in Directory.GetFiles(Path.Combine(repository, "examples/families"), "*.tfmodel.yaml")
                     .Concat(Directory.GetFiles(Path.Combine(repository, "tests/TokenformerGen.Cli.Tests/Families"), "*.tfmodel.yaml")))
            File.Copy(family, Path.Combine(spec, Path.GetFileName(family)), overwrite: true);
    }

    private static string Folder(string corpus, string target) => Directory.CreateDirectory(Path.Combine(corpus, target)).FullName;

    private static void Write(string corpus, string target, IEnumerable<(string Name, byte[] Bytes)> files)
    {
        var folder = Folder(corpus, target);
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }

    // The tensors of a 1-layer model in our names, small shapes, deterministic values.
    private static DisposableTensors TinyModel(ScalarType dtype)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var k = 0;
        foreach (var name in OfficialLayout.OurNames(ReaderTargets.Layers))
        {
            long[] shape = name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal) ? [4] : [3, 4];
            tensors[name] = arange(k, k + shape.Aggregate(1L, (a, b) => a * b), dtype: ScalarType.Float32).reshape(shape).to_type(dtype);
            k += 12;
        }
        return tensors.AsDisposable();
    }

    private static IEnumerable<(string, byte[])> SafeTensorsSeeds()
    {
        var scratch = Directory.CreateTempSubdirectory("tfg-seed-").FullName;
        try
        {
            using (var model = TinyModel(ScalarType.Float32))
            {
                var path = Path.Combine(scratch, "checkpoint.safetensors");
                Checkpoint.Save(path, model.Value, new CheckpointMetadata("Tiny", "Small", "0123456789abcdef", 7));
                yield return ("checkpoint.safetensors", File.ReadAllBytes(path));
            }
            using var mixed = new Dictionary<string, Tensor>
            {
                ["a.bf16"] = ones(2, 3, dtype: ScalarType.BFloat16),
                ["b.i64"] = arange(5L),
                ["c.bool"] = tensor(new[] { true, false, true }),
                ["d.empty"] = zeros(0, 4),
                ["e.scalar"] = tensor(1.5f),
            }.AsDisposable();
            using var stream = new MemoryStream();
            SafeTensorsFile.Write(stream, mixed.Value, new Dictionary<string, string> { ["note"] = "dtypes" });
            yield return ("dtypes.safetensors", stream.ToArray());
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static IEnumerable<(string, byte[])> NeoXSeeds()
    {
        var scratch = Directory.CreateTempSubdirectory("tfg-seed-").FullName;
        try
        {
            foreach (var (name, vocabulary) in new[] { ("u16", 50277), ("i32", 70000) })
            {
                var prefix = Path.Combine(scratch, name);
                NeoXDataset.Write(prefix, [[5, 6, 7], [300, 1], [], [9, 9, 9, 9]], vocabulary, endOfText: 0);
                yield return ($"{name}.pair", ReaderTargets.JoinPair(File.ReadAllBytes(NeoXDataset.IndexPath(prefix)), File.ReadAllBytes(NeoXDataset.DataPath(prefix))));
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    // The shipped tokenizer.json with its vocabulary cut to the ids below `keep` (the byte symbols among them) and the
    // merges that stay inside it: the same structure, added tokens and pipeline, a few kilobytes.
    private static byte[] CutNeoXTokenizer(int keep)
    {
        using var resource = typeof(NeoXTokenizer).Assembly.GetManifestResourceStream("TokenformerGen.Data.neox-20b-tokenizer.json.gz")!;
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        var root = JsonNode.Parse(gzip)!.AsObject();
        var model = root["model"]!.AsObject();
        var vocab = model["vocab"]!.AsObject();
        var kept = new JsonObject();
        foreach (var (token, id) in vocab)
            if (id!.GetValue<int>() < keep) kept[token] = id.GetValue<int>();
        var merges = new JsonArray();
        foreach (var merge in model["merges"]!.AsArray())
        {
            var parts = merge!.GetValue<string>().Split(' ');
            if (kept.ContainsKey(parts[0]) && kept.ContainsKey(parts[1]) && kept.ContainsKey(parts[0] + parts[1])) merges.Add(merge.GetValue<string>());
        }
        model["vocab"] = kept;
        model["merges"] = merges;
        var added = new JsonArray();
        foreach (var token in root["added_tokens"]!.AsArray().Take(3)) added.Add(token!.DeepClone());
        root["added_tokens"] = added;
        return JsonSerializer.SerializeToUtf8Bytes(root);
    }
}

/// <summary>Disposes the tensors of a dictionary with it.</summary>
internal sealed class DisposableTensors(Dictionary<string, Tensor> value) : IDisposable
{
    public Dictionary<string, Tensor> Value { get; } = value;

    public void Dispose()
    {
        foreach (var t in Value.Values) t.Dispose();
    }
}

internal static class DisposableTensorsExtensions
{
    public static DisposableTensors AsDisposable(this Dictionary<string, Tensor> tensors) => new(tensors);
}
