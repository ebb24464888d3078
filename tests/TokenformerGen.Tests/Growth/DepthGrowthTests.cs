using TokenformerGen.Architecture;
using TokenformerGen.Checkpoints;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Growth;

/// <summary>
/// Standard Transformer blocks and depth growth, checked against the float64 reference: a Transformer's logits, a stacked
/// model against its parent's blocks run twice, identity growth keeping the function, and the in-memory and streamed
/// growths giving the same bits.
/// </summary>
public sealed class DepthGrowthTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-depth-").FullName;
    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly Tensor Tokens = TrainedLike.Tokens;

    private static T Trained<T>(T model, long seed = 3) where T : TokenformerModel => TrainedLike.Model(model, seed);

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static double[][] Logits(TokenformerModel model)
    {
        using var _ = no_grad();
        return ToMatrix(model.call(Tokens)[0]);
    }

    [Fact]
    public void TransformerLogitsMatchTheFloat64Reference()
    {
        foreach (TokenformerModel model in new TokenformerModel[] { Trained(new SampleTransformerSmall()), Trained(new SampleTransformerDeep(), seed: 9) })
        {
            var error = RelativeError(Logits(model), TransformerReference.Logits(model, Tokens));
            output.WriteLine($"{model.Stage.QualifiedName}: relative error {error:E2} against float64");
            Assert.InRange(error, 0, 1e-5);
        }
    }

    [Fact]
    public void TheTransformerTwinHasTheTokenformersParametersAndFlops()
    {
        // 16·d² a block either way at d = 128 (MLP 6d against qkv = proj = d, ffn = 4d), and two FLOPs a weight.
        Assert.Equal(16L * 128 * 128, ModelSize.TransformerBlockParameters(128, 768));
        Assert.Equal(ModelSize.TokenformerBlockParameters(128, 128, 128, 512), ModelSize.TransformerBlockParameters(128, 768));
        Assert.Equal(12L * 64 * 64, ModelSize.TransformerBlockParameters(64, 256));
        Assert.Equal(ModelSize.Parameters(256, 4, 128, 128, 128, 512), ModelSize.Parameters(256, 4, 128, ModelSize.TransformerBlockParameters(128, 768)));
        Assert.Equal(ModelSize.TrainingFlopsPerToken(256, 4, 128, 128, 128, 512, 128), ModelSize.TrainingFlopsPerToken(256, 4, 128, ModelSize.TransformerBlockParameters(128, 768), 128));
        // Counted from the generated modules themselves.
        using var model = new SampleTransformerDeep();
        Assert.Equal(model.parameters().Sum(p => p.numel()), SampleTransformerDeep.Info.Parameters);
        Assert.Equal(256L * 16 + 3 * (4 * 16 * 16 + 2 * 16 * 40) + 2 * 16, SampleTransformerDeep.Info.Parameters);
    }

    [Fact]
    public void StackingRunsTheParentsBlocksAgainOnTop()
    {
        using var small = Trained(new SampleTransformerSmall());
        using var stacked = SampleTransformerStacked.GrowFrom(small);
        foreach (var (name, parameter) in stacked.NamedParameters().Where(p => p.Name.StartsWith("layers.1.", StringComparison.Ordinal)))
            Assert.True(Same(parameter, small.state_dict()["layers.0." + name["layers.1.".Length..]]), $"{name} is not a copy of block 0");
        // The grown model computes block 0 of its parent twice: predicted from the parent's weights alone.
        var predicted = TransformerReference.Logits(small, Tokens, layers: 2, blockOf: _ => 0);
        var error = RelativeError(Logits(stacked), predicted);
        output.WriteLine($"stacked against its parent's block run twice (float64): relative error {error:E2}");
        Assert.InRange(error, 0, 1e-5);
        Assert.False(SampleTransformerSmallToStacked.Map.PreservesFunction[GrowthPolicy.ZeroKeys]);
        Assert.InRange(RelativeError(Logits(stacked), Logits(small)), 1e-3, double.MaxValue);   // and that is another function
    }

    [Fact]
    public void IdentityGrowthKeepsTheFunctionForBothBlocksAndItsNewOutputWeightsTrain()
    {
        using var stacked = Trained(new SampleTransformerStacked());
        using var deep = new SampleTransformerDeep();
        using var small = Trained(new SampleDepthSmall());
        using var medium = new SampleDepthMedium();
        foreach (var (map, trained, grown) in new (GrowthMap, TokenformerModel, TokenformerModel)[] { (SampleTransformerStackedToDeep.Map, stacked, deep), (SampleDepthSmallToMedium.Map, small, medium) })
        {
            double Loss(TokenformerModel m)
            {
                using var _ = no_grad();
                using var logits = m.call(Tokens);
                return nn.functional.cross_entropy(logits[0, ..^1], Tokens[0, 1..]).item<float>();
            }
            var report = StageGrowth.GrowInto(map, trained, grown, measure: Loss);
            output.WriteLine($"{map.From.QualifiedName} → {map.To.Name} ({report.Description}): loss {report.LossBefore:F6} → {report.LossAfter:F6}, Δ {report.Delta:E2}");
            Assert.True(report.PreservesFunction);
            Assert.InRange(Math.Abs(report.Delta!.Value), 0, 1e-5);
            // A zero output adds nothing; what is left is the summation order of wider matmuls where tokens grew too.
            var change = RelativeError(Logits(grown), Logits(trained));
            output.WriteLine($"  logits: relative change {change:E2}");
            Assert.InRange(change, 0, 1e-5);
            if (trained.Stage.Architecture.Block == BlockKind.Transformer) Assert.Equal(0, change);   // only blocks added: exactly

            // The new block writes nothing yet, but its output weights get gradient (their inputs are not zero).
            var last = (int)grown.Stage.Architecture.Layers - 1;
            var outputs = grown.NamedParameters().Where(p => p.Name.StartsWith(ParameterNames.Layer(last) + ".", StringComparison.Ordinal)
                                                             && ParameterNames.All(last + 1, grown.Stage.Architecture.Block).Single(n => n.Name == p.Name).WritesResidual).ToList();
            Assert.Equal(2, outputs.Count);
            grown.call(Tokens).square().sum().backward();
            foreach (var (name, parameter) in outputs)
            {
                Assert.Equal(0, parameter.abs().max().item<float>());
                Assert.True(parameter.grad!.abs().max().item<float>() > 1e-6, $"{name} got no gradient");
            }
        }
    }

    [Fact]
    public void TokensAndLayersGrowInOneEdgeAndStackedTokenformerBlocksCopyTheirGrownSource()
    {
        using var small = Trained(new SampleDepthSmall());
        using var medium = SampleDepthMedium.GrowFrom(small);
        Assert.Equal(2L, medium.Stage.Architecture.Layers);
        Assert.Equal(12L, medium.Layers[0].Attention.Query.TokenCount);
        Assert.True(Same(medium.Layers[0].Attention.Query.Keys.narrow(0, 0, 8), small.Layers[0].Attention.Query.Keys));
        using var large = SampleDepthLarge.GrowFrom(Trained(SampleDepthMedium.GrowFrom(small), seed: 4));
        var state = large.state_dict();
        foreach (var (name, tensor) in state.Where(p => p.Key.StartsWith("layers.2.", StringComparison.Ordinal) || p.Key.StartsWith("layers.3.", StringComparison.Ordinal)))
        {
            var source = ParameterNames.Layer(int.Parse(name["layers.".Length..name.IndexOf('.', "layers.".Length)], System.Globalization.CultureInfo.InvariantCulture) - 2) + name[name.IndexOf('.', "layers.".Length)..];
            Assert.True(Same(tensor, state[source]), $"{name} is not a copy of {source}");
        }
    }

    [Theory]
    [InlineData("transformer stack")]
    [InlineData("transformer identity")]
    [InlineData("tokenformer identity with tokens")]
    [InlineData("tokenformer stack")]
    public void StreamedGrowthEqualsInMemoryGrowthBitForBit(string edge)
    {
        var (map, source, grown, streamed) = edge switch
        {
            "transformer stack" => (SampleTransformerSmallToStacked.Map, (TokenformerModel)Trained(new SampleTransformerSmall()), (Func<TokenformerModel, GrowthOptions, TokenformerModel>)((m, o) => SampleTransformerStacked.GrowFrom((SampleTransformerSmall)m, o)), (TokenformerModel)new SampleTransformerStacked()),
            "transformer identity" => (SampleTransformerStackedToDeep.Map, Trained(new SampleTransformerStacked()), (m, o) => SampleTransformerDeep.GrowFrom((SampleTransformerStacked)m, o), new SampleTransformerDeep()),
            "tokenformer identity with tokens" => (SampleDepthSmallToMedium.Map, Trained(new SampleDepthSmall()), (m, o) => SampleDepthMedium.GrowFrom((SampleDepthSmall)m, o), new SampleDepthMedium()),
            _ => (SampleDepthMediumToLarge.Map, Trained(new SampleDepthMedium()), (m, o) => SampleDepthLarge.GrowFrom((SampleDepthMedium)m, o), new SampleDepthLarge()),
        };
        var path = Path.Combine(_directory, "source.safetensors");
        Checkpoint.Save(path, source, new CheckpointMetadata(map.From.Family, map.From.Name, map.From.SpecHash, 10));
        var options = new GrowthOptions { Policy = GrowthPolicy.Random, Seed = 17 };
        var target = Path.Combine(_directory, "grown.safetensors");
        var metadata = StageGrowth.GrowCheckpoint(map, path, target, options);
        Checkpoint.Load(target, streamed, map.To.Family, map.To.Name);
        using var inMemory = grown(source, options);
        foreach (var (name, tensor) in inMemory.state_dict())
            Assert.True(Same(tensor, streamed.state_dict()[name]), $"{name} differs between streamed and in-memory growth ({edge})");
        Assert.Equal(map.To.LayerGrowth!.Value.SpecName(), metadata.Extra["layer_growth"]);
    }

    [Fact]
    public void ATokenformerCheckpointIsRefusedByATransformerNamingTheTensors()
    {
        var path = Path.Combine(_directory, "tokenformer.safetensors");
        using var tokenformer = Trained(new SampleDepthSmall());
        Checkpoint.Save(path, tokenformer, new CheckpointMetadata("SampleDepth", "Small", SampleDepthSmall.Info.SpecHash, 1));
        using var transformer = new SampleTransformerSmall();
        var error = Assert.ThrowsAny<Exception>(() => Checkpoint.Load(path, transformer));
        output.WriteLine(error.Message);
        Assert.Contains("layers.0.attention.query.weight", error.Message, StringComparison.Ordinal);
        var refusedByStage = Assert.ThrowsAny<Exception>(() => Checkpoint.Load(path, transformer, "SampleTransformer", "Small"));
        Assert.Contains("SampleDepth", refusedByStage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AProjectionMultipliesInBfloat16AndKeepsFloat32Masters()
    {
        using var model = Trained(new SampleTransformerSmall());
        var fp32 = Logits(model);
        model.Place(new ComputeTarget(CPU, Precision.Bf16));
        Assert.All(model.modules().OfType<Projection>(), p => Assert.Equal(ScalarType.BFloat16, p.ComputeType));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        var bf16 = Logits(model);
        var error = RelativeError(bf16, fp32);
        output.WriteLine($"bf16 against fp32: relative error {error:E2}");
        Assert.InRange(error, 1e-6, 5e-2);   // rounded, so not equal, and close
    }
}
