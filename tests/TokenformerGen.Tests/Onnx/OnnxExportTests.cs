using System.Diagnostics;
using TokenformerGen.Checkpoints;
using TokenformerGen.Devices;
using TokenformerGen.Inference;
using TokenformerGen.Onnx;
using TokenformerGen.Onnx.Proto;
using TokenformerGen.Primitives;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Tests.Onnx;

/// <summary>What an export writes (read back with the ONNX schema and ONNX's own checker) and what it refuses.</summary>
public sealed class OnnxExportTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tfg-onnx-export-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void TheGraphHasTheCacheInputsAndOutputsAndTheParametersUnderTheirStateDictNames()
    {
        using var model = Initialized(new SampleSmall());
        var folder = Path.Combine(_folder, "export");
        var result = OnnxExport.Write(model, folder, new OnnxExportOptions { TrainingStep = 42 });

        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, OnnxExport.ModelFile)));
        Assert.Equal(8, proto.IrVersion);
        // ai.onnx 17, and ONNX Runtime's operators for the attention (GroupQueryAttention).
        Assert.Equal([("", 17L), ("com.microsoft", 1L)], proto.OpsetImport.Select(o => (o.Domain, o.Version)));
        Assert.Equal(["input_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"], proto.Graph.Input.Select(i => i.Name));
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], proto.Graph.Output.Select(o => o.Name).OrderBy(n => n != "logits").ThenBy(n => n, StringComparer.Ordinal));
        var pastKey = proto.Graph.Input[2].Type.TensorType.Shape.Dim;
        Assert.Equal(["batch", "2", "past_sequence", "8"], pastKey.Select(d => d.DimParam is { Length: > 0 } p ? p : d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var parameters = model.state_dict().ToDictionary(p => p.Key, p => p.Value);
        var weights = proto.Graph.Initializer.Where(t => parameters.ContainsKey(t.Name)).ToList();
        Assert.Equal(parameters.Keys.Order(StringComparer.Ordinal), weights.Select(w => w.Name).Order(StringComparer.Ordinal));
        foreach (var weight in weights)
        {
            Assert.Equal(parameters[weight.Name].shape, weight.Dims);
            Assert.Equal(parameters[weight.Name].data<float>().ToArray(), MemoryMarshalFloats(weight.RawData.ToByteArray()));
        }
        Assert.Equal("Sample", proto.MetadataProps.Single(p => p.Key == "family").Value);
        Assert.Equal(result.Nodes, proto.Graph.Node.Count);

        var card = OnnxModelCard.Read(folder);
        Assert.Equal(result.Card, card);
        Assert.Equal((42L, "byte", 256L, 32L, 2), (card.TrainingStep!.Value, card.Tokenizer, card.PaddedVocabulary, card.Context, card.Layers));
    }

    [Fact]
    public void OnnxCheckerAcceptsTheGraph()
    {
        var python = PythonWithOnnx();
        if (python is null)
        {
            Assert.True(Environment.GetEnvironmentVariable("TFG_REQUIRE_ONNX_CHECKER") != "1", "no python3 with the onnx package, which CI installs (python3-onnx)");
            return;   // not installed here: the other tests still run the graph in ONNX Runtime
        }
        using var model = Initialized(new SampleGeluL2NormSmall());
        // float32 and int8 (standard DynamicQuantizeLinear and MatMulInteger); int4's com.microsoft operators have no schema in ONNX's checker.
        foreach (var precision in new[] { OnnxPrecision.Fp32, OnnxPrecision.Int8 })
        {
            var folder = Path.Combine(_folder, "checked-" + OnnxQuantizer.NameOf(precision));
            OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision });
            var output = Python.Run(python, _folder, """
                import sys, onnx
                onnx.checker.check_model(sys.argv[1], full_check=True)
                print("ok", onnx.__version__)
                """, Path.Combine(folder, OnnxExport.ModelFile));
            Assert.StartsWith("ok", output);
        }
    }

    [Fact]
    public void HeadsWhoseDimsAreNotAMultipleOf8AreRefused()
    {
        var graph = new OnnxGraph("heads", []);
        var tokens = graph.Input(OnnxExport.InputIds, OnnxType.Int64, OnnxKvCache.Batch, OnnxKvCache.Sequence);
        var error = Assert.Throws<OnnxExportException>(() => new OnnxKvCache(tokens, layers: 1, heads: 2, headDim: 12, context: 32));
        Assert.Contains("heads of 12 dims", error.Message);
        Assert.Contains("GroupQueryAttention", error.Message);
    }

    [Fact]
    public void ANonEmptyFolderThatHoldsNoExportIsRefusedAndLeftAlone()
    {
        using var model = Initialized(new SampleSmall());
        Directory.CreateDirectory(_folder);
        File.WriteAllText(Path.Combine(_folder, "notes.txt"), "mine");
        var error = Assert.Throws<IOException>(() => OnnxExport.Write(model, _folder));
        Assert.Contains("not empty", error.Message);
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(_folder).Select(Path.GetFileName));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void AnEarlierExportIsReplacedWhole()
    {
        var folder = Path.Combine(_folder, "export");
        using (var small = Initialized(new SampleSmall())) OnnxExport.Write(small, folder, new OnnxExportOptions { Weights = OnnxWeights.External });
        using (var medium = Initialized(new SampleMedium())) OnnxExport.Write(medium, folder);
        Assert.Equal("Medium", OnnxModelCard.Read(folder).Stage);
        Assert.False(File.Exists(Path.Combine(folder, OnnxExport.ExternalDataFile)), "the earlier export's data file survived");
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void AWriteThatFailsLeavesNoFolderAndKeepsAnEarlierOne()
    {
        var folder = Path.Combine(_folder, "export");
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(folder, _ => true, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "half.bin"), "half");
            throw new InvalidOperationException("disk full");
        }));
        Assert.False(Directory.Exists(folder));

        using var model = Initialized(new SampleSmall());
        OnnxExport.Write(model, folder);
        var before = Directory.EnumerateFiles(folder).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f).Length)).Order().ToList();
        Assert.Throws<InvalidOperationException>(() => AtomicFolder.Write(folder, _ => true, _ => throw new InvalidOperationException("crash")));
        Assert.Equal(before, Directory.EnumerateFiles(folder).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f).Length)).Order());
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void ModelsWithoutFloat32WeightsToReadAreRefused()
    {
        using var prepared = Initialized(new SampleSmall());
        prepared.Place(new ComputeTarget(CPU, Precision.Bf16)).PrepareForInference();
        Assert.Throws<InvalidOperationException>(() => OnnxExport.Write(prepared, Path.Combine(_folder, "bf16")));

        using var meta = new SampleSmall();
        meta.Place(new ComputeTarget(new Device(DeviceType.META), Precision.Fp32));
        var error = Assert.Throws<OnnxExportException>(() => OnnxExport.Write(meta, Path.Combine(_folder, "meta")));
        Assert.Contains("meta device", error.Message);
        Assert.False(Directory.Exists(_folder) && Directory.EnumerateFileSystemEntries(_folder).Any(), "a refused export wrote something");
    }

    [Fact]
    public void ACardThatDoesNotMatchItsGraphIsRefusedBeforeItSizesAnything()
    {
        using var model = Initialized(new SampleSmall());
        var folder = Path.Combine(_folder, "edited");
        OnnxExport.Write(model, folder);
        var cardPath = Path.Combine(folder, OnnxModelCard.FileName);
        var original = File.ReadAllText(cardPath);
        foreach (var (edit, expected) in new[]
        {
            (original.Replace("\"layers\": 2", "\"layers\": 2000000000", StringComparison.Ordinal), "6 inputs, where 2000000000 layers need 4000000002"),
            (original.Replace("\"padded_vocabulary\": 256", "\"padded_vocabulary\": 512", StringComparison.Ordinal), "logits [-1, -1, 256], where the card says [batch, sequence, 512]"),
            (original.Replace("\"heads\": 2", "\"heads\": 4", StringComparison.Ordinal), "cached keys [-1, 2, -1, 8], where the card says [batch, 4, past, 8]"),
            (original.Replace("\"tokenizer\": \"byte\"", "\"tokenizer\": \"morse\"", StringComparison.Ordinal), "unknown tokenizer 'morse'"),
        })
        {
            Assert.NotEqual(original, edit);
            File.WriteAllText(cardPath, edit);
            var error = Assert.Throws<InvalidDataException>(() => OnnxRuntime.OnnxTokenformer.Load(folder).Dispose());
            Assert.Contains(expected, error.Message);
        }
    }

    [Fact]
    public void AGraphThatLeavesPartOfTheModelOutIsRefusedByName()
    {
        using var model = new EmbeddingOnly();
        var error = Assert.Throws<OnnxExportException>(() => OnnxExport.Write(model, Path.Combine(_folder, "partial")));
        Assert.Equal("Sample/Small: the ONNX graph leaves out final_norm.weight, final_norm.bias, so it would not compute the model", error.Message);
        Assert.False(Directory.Exists(_folder), "a refused export wrote something");
    }

    // A hand-written model whose graph forgets its final norm: what a model the exporter does not cover looks like.
    private sealed class EmbeddingOnly : TokenformerGen.Modules.TokenformerModel
    {
        private readonly TokenformerGen.Primitives.TokenEmbedding word_embeddings = new(256, 16);
        private readonly TokenformerGen.Primitives.AffineLayerNorm final_norm = new(16);

        public EmbeddingOnly() : base(nameof(EmbeddingOnly)) => RegisterComponents();

        protected override TokenformerGen.Families.StageInfo DeclaredStage => SampleSmall.Info;

        public override Tensor forward(Tensor tokens, KvCache? cache) => word_embeddings.Logits(final_norm.call(word_embeddings.call(tokens)));

        public override OnnxValue ToOnnx(OnnxValue tokens, OnnxKvCache cache) => word_embeddings.LogitsToOnnx(word_embeddings.ToOnnx(tokens));
    }

    private static T Initialized<T>(T model) where T : TokenformerGen.Modules.TokenformerModel
    {
        model.InitializeFromScratch(7);
        return model;
    }

    private IEnumerable<string> Leftovers()
        => Directory.Exists(_folder) ? Directory.EnumerateFileSystemEntries(_folder).Where(p => Path.GetFileName(p).StartsWith('.')) : [];

    private static float[] MemoryMarshalFloats(byte[] bytes) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();

    // A python3 that imports onnx (Debian's python3-onnx lives beside /usr/bin/python3, which PATH may not put first).
    private static string? PythonWithOnnx()
    {
        foreach (var python in new[] { Python.Find(), "/usr/bin/python3" }.OfType<string>().Distinct())
        {
            if (!File.Exists(python)) continue;
            using var process = Process.Start(new ProcessStartInfo(python, ["-c", "import onnx"]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit(TimeSpan.FromMinutes(10));
            if (process.ExitCode == 0) return python;
        }
        return null;
    }
}
