using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Modules;

/// <summary>The generated Sample family (Families/Sample.tfmodel.yaml), run for real.</summary>
public sealed class GeneratedFamilyTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-family-").FullName;
    private static readonly Tensor Tokens = tensor(new long[] { 3, 17, 200, 5, 9, 64, 1, 250, 42, 7 }).view(1, 10);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    internal static SampleSmall TrainedLikeSmall(long seed = 3)
    {
        var small = new SampleSmall();
        small.InitializeFromScratch(seed);
        using (no_grad())
        {
            // Larger value tokens than the init's, so the blocks change the residual stream visibly.
            foreach (var (_, p) in small.Pattentions()) p.Values.mul_(8);
            small.FinalNorm.Weight.uniform_(0.5, 1.5);
            small.FinalNorm.Bias.uniform_(-0.2, 0.2);
        }
        return small;
    }

    [Fact]
    public void LogitsMatchAFloat64ReferenceOfTheWholeModel()
    {
        var model = TrainedLikeSmall();
        var expected = SampleReference.Logits(model, Tokens);
        var actual = ToMatrix(model.call(Tokens)[0]);
        var error = RelativeError(actual, expected);
        output.WriteLine($"relative error of logits vs float64: {error:E2}");
        Assert.InRange(error, 0, 1e-5);
    }

    [Fact]
    public void GrowthMapCoversBothStatesInStateDictOrder()
    {
        var map = SampleSmallToMedium.Map;
        Assert.Equal(new SampleMedium().state_dict().Keys, map.Rows.Select(p => p.Name));
        Assert.Equal(new SampleSmall().StateShapes().Select(p => Shapes.Format(p.Value)), map.Rows.Select(p => Shapes.Format(p.FromShape)));
        var mlpKeys = map["layers.1.mlp.key_param_tokens"];
        Assert.Equal((0, 32L, 16L), (mlpKeys.GrowAxis!.Value, mlpKeys.KeptRows, mlpKeys.AppendedRows));
        Assert.Equal(new PerPolicy<NewRows>(NewRows.Zero, NewRows.Normal(0.02)), mlpKeys.NewRows);
        // Value rows: GPT-NeoX's wang init 2 / (L·√d) = 2 / (2·4) under both policies.
        Assert.Equal(new PerPolicy<NewRows>(NewRows.Normal(0.25), NewRows.Normal(0.25)), map["layers.1.mlp.value_param_tokens"].NewRows);
        Assert.Equal(default, map["word_embeddings.weight"].NewRows);
        Assert.Equal(new PerPolicy<NewRows>(NewRows.None, NewRows.None), map["word_embeddings.weight"].NewRows);
        Assert.Null(map["word_embeddings.weight"].GrowAxis);
    }

    [Fact]
    public void ZeroKeysGrowthThroughTheGeneratedRoutineKeepsTheLogits()
    {
        var small = TrainedLikeSmall();
        var medium = SampleMedium.GrowFrom(small);
        var difference = MaxAbsDifference(medium.call(Tokens), small.call(Tokens));
        output.WriteLine($"zero_keys: max |Δ logits| = {difference:E2} (logit scale {small.call(Tokens).abs().max().item<float>():F2})");
        Assert.InRange(difference, 0, 1e-5);
        Assert.Equal(SampleSmall.Info.Taus, SampleMedium.Info.Taus);   // τ frozen by tau: fixed
    }

    [Fact]
    public void OnlyAStageThatKeptAnotherStagesTauSaysSo()
    {
        Assert.False(SampleSmall.Info.HasBorrowedTau);   // a root under tau: fixed: √ of its own counts
        Assert.True(SampleMedium.Info.HasBorrowedTau);   // grown with zero_keys: Small's √8/√8/√32, not √12/√16/√48
        Assert.False(SampleSqrtNMedium.Info.HasBorrowedTau);
        Assert.False(SampleTransformerDeep.Info.HasBorrowedTau);
    }

    [Fact]
    public void RandomGrowthChangesTheLogits()
    {
        var small = TrainedLikeSmall();
        var medium = SampleMedium.GrowFrom(small, new GrowthOptions { Policy = GrowthPolicy.Random });
        var difference = MaxAbsDifference(medium.call(Tokens), small.call(Tokens));
        output.WriteLine($"random: max |Δ logits| = {difference:E2}");
        Assert.True(difference > 1e-2);
    }

    [Theory]
    [InlineData(GrowthPolicy.ZeroKeys)]
    [InlineData(GrowthPolicy.Random)]
    public void StreamedCheckpointGrowthEqualsInMemoryGrowthBitForBit(GrowthPolicy policy)
    {
        var small = TrainedLikeSmall();
        var source = Path.Combine(_directory, "small.safetensors");
        Checkpoint.Save(source, small, new CheckpointMetadata("Sample", "Small", SampleSmall.Info.SpecHash, 40));
        var options = new GrowthOptions { Policy = policy, Seed = 9 };

        var target = Path.Combine(_directory, "medium.safetensors");
        var written = SampleSmallToMedium.GrowCheckpoint(source, target, options);
        Assert.Equal(("Sample", "Medium", 0L), (written.Family, written.Stage, written.Step));

        var streamed = new SampleMedium();
        Checkpoint.Load(target, streamed, "Sample", "Medium");
        var inMemory = SampleMedium.GrowFrom(small, options);
        foreach (var (name, tensor) in inMemory.state_dict())
            Assert.True(tensor.eq(streamed.state_dict()[name]).all().item<bool>(), $"{name} differs between streamed and in-memory growth");
    }

    [Fact]
    public void CheckpointGrowthRefusesACheckpointOfAnotherStage()
    {
        var medium = new SampleMedium();
        var path = Path.Combine(_directory, "medium.safetensors");
        Checkpoint.Save(path, medium, new CheckpointMetadata("Sample", "Medium", SampleMedium.Info.SpecHash, 0));
        var e = Assert.ThrowsAny<Exception>(() => SampleSmallToMedium.GrowCheckpoint(path, Path.Combine(_directory, "out.safetensors")));
        Assert.Contains("Medium", e.Message);
        Assert.Contains("Small", e.Message);
        Assert.False(File.Exists(Path.Combine(_directory, "out.safetensors")));
    }

    [Fact]
    public void CheckpointGrowthRefusesAMisshapenCheckpointNamingEveryTensor()
    {
        var tensors = new SampleSmall().state_dict().ToDictionary(p => p.Key, p => p.Value);
        tensors["layers.0.mlp.key_param_tokens"] = zeros(31, 16);
        tensors.Remove("final_norm.bias");
        var path = Path.Combine(_directory, "bad.safetensors");
        Checkpoint.Save(path, tensors, new CheckpointMetadata("Sample", "Small", SampleSmall.Info.SpecHash, 0));
        var e = Assert.Throws<GrowthException>(() => SampleSmallToMedium.GrowCheckpoint(path, Path.Combine(_directory, "out.safetensors")));
        Assert.Contains("layers.0.mlp.key_param_tokens: the source (Sample/Small) has [31, 16], the map expects [32, 16]", e.Message);
        Assert.Contains("final_norm.bias: missing from the source", e.Message);
    }

    [Fact]
    public void TheRegistryListsTheFamilyItsStagesAndItsEdge()
    {
        var family = ModelRegistry.Family("sample");
        Assert.Equal(["Small", "Medium"], family.Stages.Select(s => s.Info.Name));
        Assert.IsType<SampleMedium>(family.Stage("medium").Create());
        Assert.Same(SampleSmallToMedium.Map, family.EdgeInto("Medium"));
        Assert.Null(family.EdgeInto("Small"));
        Assert.Contains("Unknown family 'Nope'", Assert.Throws<ArgumentException>(() => ModelRegistry.Family("Nope")).Message);
        Assert.Contains("has no stage 'Huge'", Assert.Throws<ArgumentException>(() => family.Stage("Huge")).Message);
        Assert.Equal(SampleSmall.Info.Parameters, new SampleSmall().parameters().Sum(p => p.numel()));
        Assert.Equal(SampleMedium.Info.Parameters, new SampleMedium().parameters().Sum(p => p.numel()));
    }
}
