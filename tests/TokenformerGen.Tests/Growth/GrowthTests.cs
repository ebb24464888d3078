using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Tests.Generated;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Growth;

/// <summary>
/// Growth through generated maps: what each (Θ, τ, policy) combination does to the function, checked by running
/// the models, and the options and refusals of <see cref="StageGrowth"/>.
/// </summary>
public sealed class GrowthTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-growth-").FullName;
    private static readonly Tensor Tokens = TrainedLike.Tokens;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static T Trained<T>(T model) where T : TokenformerModel => TrainedLike.Model(model);

    private static double LogitChange(TokenformerModel before, TokenformerModel after)
    {
        using var _ = no_grad();
        return MaxAbsDifference(after.call(Tokens), before.call(Tokens));
    }

    [Fact]
    public void ZeroKeysWithFixedTauKeepsTheFunctionInFloat64AndTheNewKeysTrain()
    {
        var small = Trained(new SampleSmall());
        var medium = new SampleMedium();
        var report = StageGrowth.GrowInto(SampleSmallToMedium.Map, small, medium);
        Assert.True(report.PreservesFunction);

        // In float64 the only difference left is summation order: the function is the same.
        small.to(float64);
        medium.to(float64);
        var difference64 = LogitChange(small, medium);
        output.WriteLine($"zero_keys, float64: max |Δ logits| = {difference64:E2}");
        Assert.InRange(difference64, 0, 1e-12);
        medium.to(float32);

        // New key rows are zero but get gradient through GeLU'(0) = ½.
        medium.call(Tokens).square().sum().backward();
        foreach (var (name, p) in medium.Pattentions())
        {
            var row = SampleSmallToMedium.Map[$"{name}.key_param_tokens"];
            if (row.AppendedRows == 0) continue;
            Assert.Equal(0, p.Keys.narrow(0, row.KeptRows, row.AppendedRows).abs().max().item<float>());
            var newKeyGradient = p.Keys.grad!.narrow(0, row.KeptRows, row.AppendedRows).abs().max().item<float>();
            output.WriteLine($"{name}: max |grad| of new key rows = {newKeyGradient:E2}");
            Assert.True(newKeyGradient > 1e-6, $"{name}: new key rows got no gradient");
        }
    }

    [Fact]
    public void EachMapStatesPerPolicyWhetherTheFunctionIsKept()
    {
        Assert.Equal(new PerPolicy<bool>(true, false), SampleSmallToMedium.Map.PreservesFunction);
        Assert.Equal(new PerPolicy<bool>(false, false), SampleSqrtNSmallToMedium.Map.PreservesFunction);
        Assert.Equal(new PerPolicy<bool>(false, false), SampleSoftmaxSmallToMedium.Map.PreservesFunction);
    }

    [Theory]
    [InlineData("random policy on a tau: fixed family")]
    [InlineData("zero_keys under tau: sqrt_n")]
    [InlineData("zero_keys under softmax")]
    public void GrowthsTheMapCallChangingDoChangeTheLogits(string which)
    {
        var (small, grown, options) = which switch
        {
            "random policy on a tau: fixed family" => ((TokenformerModel)Trained(new SampleSmall()), (TokenformerModel)new SampleMedium(), new GrowthOptions { Policy = GrowthPolicy.Random }),
            "zero_keys under tau: sqrt_n" => (Trained(new SampleSqrtNSmall()), new SampleSqrtNMedium(), new GrowthOptions()),
            _ => (Trained(new SampleSoftmaxSmall()), new SampleSoftmaxMedium(), new GrowthOptions()),
        };
        var map = grown switch
        {
            SampleMedium => SampleSmallToMedium.Map,
            SampleSqrtNMedium => SampleSqrtNSmallToMedium.Map,
            _ => SampleSoftmaxSmallToMedium.Map,
        };
        // The check never throws for a growth the map calls changing, however much the measure moves.
        var report = StageGrowth.GrowInto(map, small, grown, options, m => m == small ? 0.0 : 1.0);
        Assert.False(report.PreservesFunction);
        var difference = LogitChange(small, grown);
        output.WriteLine($"{which}: max |Δ logits| = {difference:E2}");
        Assert.True(difference > 1e-3, $"{which}: the logits moved by only {difference}");
    }

    [Fact]
    public void APreservingGrowthThatChangesTheMeasureIsRefused()
    {
        var e = Assert.Throws<GrowthException>(() => StageGrowth.GrowInto(SampleSmallToMedium.Map, Trained(new SampleSmall()), new SampleMedium(),
                                                                           measure: m => m is SampleSmall ? 2.0 : 2.001));
        Assert.Contains("Sample/Small → Sample/Medium", e.Message);
        Assert.Contains("from 2.000000 to 2.001000", e.Message);
        // Within the tolerance it passes and reports both values.
        var report = StageGrowth.GrowInto(SampleSmallToMedium.Map, Trained(new SampleSmall()), new SampleMedium(), measure: m => m is SampleSmall ? 2.0 : 2.00005);
        Assert.Equal((2.0, 2.00005), (report.LossBefore!.Value, report.LossAfter!.Value));
    }

    [Fact]
    public void ZeroKeysWithZeroValuesIsRefusedUnlessForced()
    {
        var saddle = new GrowthOptions { ZeroValues = true };
        Assert.Contains("dead saddle", Assert.Throws<GrowthException>(() => SampleMedium.GrowFrom(Trained(new SampleSmall()), saddle)).Message);
        var grown = SampleMedium.GrowFrom(Trained(new SampleSmall()), saddle with { AllowDeadSaddle = true });
        var row = SampleSmallToMedium.Map["layers.0.mlp.value_param_tokens"];
        Assert.Equal(0, grown.Layers[0].Mlp.Values.narrow(0, row.KeptRows, row.AppendedRows).abs().max().item<float>());
    }

    [Fact]
    public void NewRowsAreAPureFunctionOfTheNameAndSeed()
    {
        float[] Draw(string name, long seed)
        {
            var values = new List<float>();
            NewRowDraws.ForEachChunk(name, 3, 4, 0.5, seed, (_, chunk) => values.AddRange(chunk.data<float>().ToArray()));
            return values.ToArray();
        }
        var first = Draw("t", 1);
        Draw("u", 1);   // drawing another tensor in between changes nothing
        Assert.Equal(first, Draw("t", 1));
        Assert.NotEqual(first, Draw("u", 1));
        Assert.NotEqual(first, Draw("t", 2));
        Assert.InRange(first.Select(Math.Abs).Max(), 1e-3, 5 * 0.5);
    }

    [Fact]
    public void StreamedGrowthEqualsInMemoryGrowthAcrossChunkBoundaries()
    {
        var narrow = new SampleWideNarrow();
        narrow.InitializeFromScratch(5);
        var row = SampleWideNarrowToWide.Map["layers.0.mlp.value_param_tokens"];
        Assert.True(row.AppendedRows > NewRowDraws.RowsPerChunk(64), "the FFN's new value rows must span more than one chunk");

        var source = Path.Combine(_directory, "narrow.safetensors");
        Checkpoint.Save(source, narrow, new CheckpointMetadata("SampleWide", "Narrow", SampleWideNarrow.Info.SpecHash, 10));
        var options = new GrowthOptions { Policy = GrowthPolicy.Random, Seed = 11 };
        var target = Path.Combine(_directory, "wide.safetensors");
        SampleWideNarrowToWide.GrowCheckpoint(source, target, options);

        var streamed = new SampleWideWide();
        Checkpoint.Load(target, streamed, "SampleWide", "Wide");
        var inMemory = SampleWideWide.GrowFrom(narrow, options);
        foreach (var (name, tensor) in inMemory.state_dict())
            Assert.True(tensor.eq(streamed.state_dict()[name]).all().item<bool>(), $"{name} differs between streamed and in-memory growth");
        // The drawn rows are N(0, std²) with the map's std: check the sample std of the 1.28M new values.
        var values = inMemory.Layers[0].Mlp.Values.narrow(0, row.KeptRows, row.AppendedRows);
        var std = values.std().item<float>();
        output.WriteLine($"new value rows: std {std:G4}, map says {row.NewRows[GrowthPolicy.Random].Std:G4}");
        Assert.InRange(std, 0.99 * row.NewRows[GrowthPolicy.Random].Std, 1.01 * row.NewRows[GrowthPolicy.Random].Std);
    }
}
