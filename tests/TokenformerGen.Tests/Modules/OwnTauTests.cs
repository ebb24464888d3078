using TokenformerGen.Checkpoints;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Tests.Generated;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Modules;

/// <summary>
/// A stage that keeps its root's τ (Sample's Medium: Small's √8/√8/√32) trained from scratch with √n of its own counts
/// (√12/√16/√48), as <see cref="TokenformerModel.UseOwnTau"/> makes it: what it computes, how checkpoints keep it, and
/// why it is not grown.
/// </summary>
public sealed class OwnTauTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-own-tau-").FullName;
    private static readonly Tensor Tokens = tensor(new long[] { 3, 17, 200, 5, 9, 64, 1, 250, 42, 7 }).view(1, 10);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static SampleMedium TrainedLikeMedium()
    {
        var medium = new SampleMedium();
        medium.InitializeFromScratch(5);
        using (no_grad())
        {
            foreach (var (_, p) in medium.Pattentions()) p.Values.mul_(8);
        }
        return medium;
    }

    [Fact]
    public void EveryPattentionTakesTheRootOfItsOwnCountAndTheStageSaysSo()
    {
        var medium = new SampleMedium().UseOwnTau();
        Assert.True(medium.HasOwnTau);
        var taus = medium.Pattentions().ToDictionary(p => p.Name, p => p.Module.Tau);
        Assert.Equal(Math.Sqrt(12), taus["layers.0.attention.query"]);
        Assert.Equal(Math.Sqrt(12), taus["layers.1.attention.value"]);
        Assert.Equal(Math.Sqrt(16), taus["layers.0.attention.proj"]);
        Assert.Equal(Math.Sqrt(48), taus["layers.1.mlp"]);
        Assert.Equal(new(Math.Sqrt(12), Math.Sqrt(16), Math.Sqrt(48)), medium.Stage.Taus);
        Assert.False(medium.Stage.HasBorrowedTau);
        Assert.Equal(new(Math.Sqrt(8), Math.Sqrt(8), Math.Sqrt(32)), SampleMedium.Info.Taus);   // the declared stage is untouched
    }

    [Fact]
    public void AStageWithoutABorrowedTauIsLeftAsItIs()
    {
        var small = new SampleSmall().UseOwnTau();   // a root under tau: fixed has √ of its own counts already
        Assert.False(small.HasOwnTau);
        Assert.Equal(SampleSmall.Info, small.Stage);
    }

    [Fact]
    public void ItComputesWhatTheSameStageDeclaredWithSqrtNComputes()
    {
        // SampleSqrtN is Sample with tau: sqrt_n: the generator gives its Medium √12/√16/√48 as constants.
        var medium = TrainedLikeMedium().UseOwnTau();
        var reference = new SampleSqrtNMedium();
        using (no_grad())
        {
            foreach (var (name, tensor) in reference.state_dict()) tensor.copy_(medium.state_dict()[name]);
        }
        Assert.Equal(0, MaxAbsDifference(medium.call(Tokens), reference.call(Tokens)));
        var declared = TrainedLikeMedium();
        Assert.True(MaxAbsDifference(declared.call(Tokens), reference.call(Tokens)) > 1e-3);   // the borrowed τ is another function
    }

    [Fact]
    public void ACheckpointKeepsItAndLoadingGivesItBack()
    {
        var medium = TrainedLikeMedium().UseOwnTau();
        var path = Path.Combine(_directory, "medium.safetensors");
        var written = Checkpoint.Save(path, medium, new CheckpointMetadata("Sample", "Medium", SampleMedium.Info.SpecHash, 7));
        Assert.True(written.OwnTau);
        Assert.Equal(CheckpointMetadata.OwnTauValue, SafeTensorsFile.ReadMetadata(path)["tau"]);

        var loaded = new SampleMedium();
        Checkpoint.Load(path, loaded, "Sample", "Medium");
        Assert.True(loaded.HasOwnTau);
        Assert.Equal(0, MaxAbsDifference(medium.call(Tokens), loaded.call(Tokens)));

        var declared = Path.Combine(_directory, "declared.safetensors");
        Assert.False(Checkpoint.Save(declared, TrainedLikeMedium(), new CheckpointMetadata("Sample", "Medium", SampleMedium.Info.SpecHash, 7)).OwnTau);
        Assert.False(SafeTensorsFile.ReadMetadata(declared).ContainsKey("tau"));
        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.Load(declared, new SampleMedium().UseOwnTau(), "Sample", "Medium"));
        Assert.Contains("τ: the checkpoint was trained with Medium's declared τ", e.Message);
    }

    [Fact]
    public void AnUnknownTauEntryIsRefusedByName()
    {
        var map = new CheckpointMetadata("Sample", "Medium", "hash", 0).ToDictionary("model");
        map["tau"] = "half";
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointMetadata.FromDictionary(map, "x.safetensors"));
        Assert.Contains("metadata tau 'half' is not 'own'", e.Message);
    }

    [Fact]
    public void ItIsNotGrownInMemoryOrFromItsCheckpoint()
    {
        // SampleThree's Medium keeps Small's τ and grows into Large: with its own τ it is another function than Large continues.
        var medium = new SampleThreeMedium();
        medium.UseOwnTau().InitializeFromScratch(2);
        var e = Assert.Throws<GrowthException>(() => SampleThreeLarge.GrowFrom(medium));
        Assert.Contains("SampleThree/Medium was trained with its own τ (a from-scratch reference)", e.Message);

        var path = Path.Combine(_directory, "medium.safetensors");
        Checkpoint.Save(path, medium, new CheckpointMetadata("SampleThree", "Medium", SampleThreeMedium.Info.SpecHash, 3));
        var grown = Path.Combine(_directory, "grown.safetensors");
        e = Assert.Throws<GrowthException>(() => SampleThreeMediumToLarge.GrowCheckpoint(path, grown));
        Assert.Contains("grow a checkpoint of the progressive run", e.Message);
        Assert.False(File.Exists(grown));
    }
}
