using TokenformerGen.Checkpoints;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class CheckpointTests : TempFolderTest
{
    private static readonly CheckpointMetadata Meta = new("tiny", "s1", "abc123", 42)
    {
        Extra = new Dictionary<string, string> { ["tokens_seen"] = "1000000" },
    };

    [Fact]
    public void ModuleRoundTripIsBitExactAndKeepsMetadata()
    {
        var path = PathOf("ckpt.safetensors");
        using var source = new TinyTokenformer().Randomize(1);
        var written = Checkpoint.Save(path, source, Meta);
        Assert.Equal("F32", written.DType);
        Assert.NotNull(written.CheckpointId);

        using var target = new TinyTokenformer().Randomize(2);
        var read = Checkpoint.Load(path, target, "tiny", "s1");
        TensorAssert.StateDictsBitEqual(source.state_dict(), target.state_dict());
        Assert.Equal(written.Family, read.Family);
        Assert.Equal(written.Stage, read.Stage);
        Assert.Equal(written.SpecHash, read.SpecHash);
        Assert.Equal(42, read.Step);
        Assert.Equal("F32", read.DType);
        Assert.Equal(written.CheckpointId, read.CheckpointId);
        Assert.Equal("1000000", read.Extra["tokens_seen"]);
        Assert.Equal(["ckpt.safetensors"], FilesInFolder());
    }

    [Fact]
    public void LoadingIntoTheWrongModelReportsEveryMismatchAndTouchesNothing()
    {
        var path = PathOf("ckpt.safetensors");
        using var source = new TinyTokenformer(layerCount: 2, nFfn: 6).Randomize(1);
        Checkpoint.Save(path, source, Meta);

        // One layer more (missing tensors), a wider FFN (shapes), a float64 final norm (dtype),
        // and one tensor renamed in the file (unexpected + missing).
        using var target = new TinyTokenformer(layerCount: 3, nFfn: 8).Randomize(2);
        target.FinalNormTo(ScalarType.Float64);
        var stateDict = target.state_dict();
        var before = TensorAssert.Snapshot(stateDict);
        using (var content = SafeTensorsFile.Read(path))
        {
            var renamed = content.Tensors.ToDictionary(kv => kv.Key == "layers.0.attention.proj.key_param_tokens" ? "layers.0.attention.dense.weight" : kv.Key, kv => kv.Value);
            SafeTensorsFile.Write(path, renamed, content.Metadata);
        }

        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.Load(path, target));
        var problems = e.Problems;
        Assert.Contains("missing: layers.0.attention.proj.key_param_tokens (model expects F32 [5, 4]).", problems);
        Assert.Contains("unexpected: layers.0.attention.dense.weight (file has F32 [5, 4], the model has no such tensor).", problems);
        Assert.Contains("shape: layers.1.mlp.key_param_tokens: file has F32 [6, 4], model expects F32 [8, 4].", problems);
        Assert.Contains("dtype: final_norm.bias: file has F32 [4], model expects F64 [4].", problems);
        Assert.Equal(10, problems.Count(p => p.StartsWith("missing: layers.2.", StringComparison.Ordinal)));
        // 10 missing in layer 2 + 1 renamed, 4 mlp shapes (key+value × 2 layers), 2 norm dtypes, 1 unexpected.
        Assert.Equal(11 + 4 + 2 + 1, problems.Count);
        Assert.Contains($"({problems.Count} problems)", e.Message);
        TensorAssert.Unchanged(before, stateDict);
    }

    [Fact]
    public void WrongFamilyOrStageIsRefusedNamingBoth()
    {
        var path = PathOf("ckpt.safetensors");
        using var source = new TinyTokenformer().Randomize(1);
        Checkpoint.Save(path, source, Meta);
        using var target = new TinyTokenformer().Randomize(2);
        var before = TensorAssert.Snapshot(target.state_dict());

        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.Load(path, target, "other", "s2"));
        Assert.Equal(["family: checkpoint is 'tiny', expected 'other'.", "stage: checkpoint is 's1', expected 's2'."], e.Problems);
        TensorAssert.Unchanged(before, target.state_dict());

        var meta = Checkpoint.ReadMetadata(path);
        var hash = Assert.Throws<CheckpointMismatchException>(() => meta.Require(path, "tiny", "s1", specHash: "zzz"));
        Assert.Equal(["spec hash: checkpoint is 'abc123', expected 'zzz'."], hash.Problems);
        meta.Require(path, "tiny", "s1", "abc123");
    }

    [Fact]
    public void OptimizerStateIsSavedBesideTheModelAndRoundTrips()
    {
        var path = PathOf("step42.safetensors");
        using var model = new TinyTokenformer().Randomize(1);
        using var generator = new Generator(5);
        var optimizer = new Dictionary<string, Tensor>
        {
            ["state.0.exp_avg"] = randn([11, 4], generator: generator),
            ["state.0.exp_avg_sq"] = randn([11, 4], generator: generator).abs(),
            ["state.0.step"] = tensor(42L),
        };
        var written = Checkpoint.Save(path, model, Meta, optimizer, new Dictionary<string, string> { ["lr"] = "0.0006", ["betas"] = "0.9,0.95" });
        Assert.Equal(["step42.optimizer.safetensors", "step42.safetensors"], FilesInFolder());
        Assert.Equal(PathOf("step42.optimizer.safetensors"), Checkpoint.OptimizerPathFor(path));

        using var state = Checkpoint.LoadOptimizerState(path);
        TensorAssert.StateDictsBitEqual(optimizer, state.Tensors);
        Assert.Equal("0.0006", state.Metadata.Extra["lr"]);
        Assert.Equal("0.9,0.95", state.Metadata.Extra["betas"]);
        Assert.Equal(written.CheckpointId, state.Metadata.CheckpointId);
        Assert.Equal(42, state.Metadata.Step);
        Assert.False(state.Metadata.Extra.ContainsKey("tokens_seen")); // the model's extras stay with the model
    }

    [Fact]
    public void AnOptimizerStateFromAnotherSaveIsRefused()
    {
        var path = PathOf("last.safetensors");
        var optimizerPath = Checkpoint.OptimizerPathFor(path);
        using var model = new TinyTokenformer().Randomize(1);
        var optimizer = new Dictionary<string, Tensor> { ["m"] = ones(3) };
        var first = Checkpoint.Save(path, model, Meta with { Step = 10 }, optimizer);
        var stale = File.ReadAllBytes(optimizerPath);
        var second = Checkpoint.Save(path, model, Meta with { Step = 20 }, optimizer);

        // A crash between the two renames of the next save: new optimizer file, old model file, or vice versa.
        File.WriteAllBytes(optimizerPath, stale);
        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.LoadOptimizerState(path));
        var line = Assert.Single(e.Problems);
        Assert.Contains($"from save {first.CheckpointId} (step 10)", line);
        Assert.Contains($"from save {second.CheckpointId} (step 20)", line);

        // Saving without optimizer state removes the stale file instead of leaving it to be paired.
        Checkpoint.Save(path, model, Meta with { Step = 30 });
        Assert.Equal(["last.safetensors"], FilesInFolder());
        Assert.Throws<FileNotFoundException>(() => Checkpoint.LoadOptimizerState(path));
    }

    [Fact]
    public void MetadataValidation()
    {
        Assert.Throws<ArgumentException>(() => (Meta with { Extra = new Dictionary<string, string> { ["step"] = "1" } }).ToDictionary("model"));

        var plain = PathOf("plain.safetensors");
        SafeTensorsFile.Write(plain, new Dictionary<string, Tensor> { ["x"] = ones(1) }, new Dictionary<string, string> { ["family"] = "tiny" });
        Assert.Contains("metadata lacks 'format'", Assert.Throws<CheckpointFormatException>(() => Checkpoint.ReadMetadata(plain)).Message);

        var badStep = Meta.ToDictionary("model");
        badStep["step"] = "-3";
        SafeTensorsFile.Write(plain, new Dictionary<string, Tensor> { ["x"] = ones(1) }, badStep);
        Assert.Contains("step '-3'", Assert.Throws<CheckpointFormatException>(() => Checkpoint.ReadMetadata(plain)).Message);
    }

    [Fact]
    public void MixedPrecisionIsRecordedInTheDTypeEntry()
    {
        var path = PathOf("mixed.safetensors");
        var written = Checkpoint.Save(path, new Dictionary<string, Tensor> { ["a"] = ones(2, bfloat16), ["b"] = ones(2), ["i"] = ones(2, int64) }, Meta);
        Assert.Equal("mixed(BF16,F32)", written.DType);
        Assert.Equal("mixed(BF16,F32)", Checkpoint.ReadMetadata(path).DType);
    }
}
