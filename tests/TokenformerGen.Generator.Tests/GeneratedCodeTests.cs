extern alias GeneratorAssembly;

using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>The generated constants compile warning-free and hold the right numbers.</summary>
public class GeneratedCodeTests
{
    private static string Example(string name) => File.ReadAllText(Path.Combine(RepoPaths.Examples, name + ".tfmodel.yaml"));

    private static (GeneratorRun Run, GeneratedFamily Family) Generate(string path, string spec, string metadataName)
    {
        var run = GeneratorHarness.Run((path, spec));
        Assert.True(run.Diagnostics.IsEmpty, GeneratorHarness.Format(run.Diagnostics));
        return (run, new GeneratedFamily(run.Output, metadataName));
    }

    [Fact]
    public void The150MModelMatchesNumbersComputedByHand()
    {
        var (run, family) = Generate("/examples/TokenFormer150M.tfmodel.yaml", Example("TokenFormer150M"), "TokenformerGen.Examples.TokenFormer150MFamily");
        Assert.Empty(run.CompileDiagnostics());

        Assert.Equal(50304, family.Const<int>("PaddedVocabularySize")); // ceil(50277 / 128) · 128 = 393 · 128
        Assert.Equal(64, family.Const<int>("HeadDim"));                 // 768 / 12
        Assert.Equal(16, family.Const<int>("RotaryDims"));              // int(0.25 · 64)
        Assert.Equal(2 / (12 * Math.Sqrt(768)), family.Const<double>("ValueInitStd"));

        // 50304·768 + 12·(6·768·768 + 2·768·768 + 2·768·3072) + 2·768
        //   = 38,633,472 + 12·9,437,184 + 1,536 = 151,881,216 (the spec's number).
        Assert.Equal(151_881_216L, family.Const<long>("Released", "Parameters"));
        // Per layer: q,k,v 3·(2·768·1536) = 7,077,888; proj 2,359,296; ffn 2·3072·1536 = 9,437,184;
        // attention 4·768·2048 = 6,291,456 → 25,165,824 · 12 = 301,989,888; LM head 2·768·50304 = 77,266,944.
        Assert.Equal(379_256_832L, family.Const<long>("Released", "ForwardFlopsPerToken"));
        Assert.Equal(3 * 379_256_832L, family.Const<long>("Released", "TrainingFlopsPerToken"));
        Assert.Equal(Math.Sqrt(768), family.Const<double>("Released", "QkvTau"));
        Assert.Equal(Math.Sqrt(3072), family.Const<double>("Released", "FfnTau"));
        Assert.Null(family.Const<string?>("Released", "GrowsFrom"));
        Assert.False(family.Const<bool>("Released", "HasTrainingBudget"));
        Assert.False(family.Has("Released", "TrainTokens"));
    }

    [Theory]
    [InlineData("TokenFormer150M", 151_881_216L)]
    [InlineData("TokenFormer450M", 454_166_528L)]
    [InlineData("TokenFormer900M", 903_252_480L)]
    [InlineData("TokenFormer1_5B", 1_587_219_456L)]
    public void TheReleasedModelsHaveThePublishedParameterCounts(string name, long parameters)
    {
        var (_, family) = Generate($"/examples/{name}.tfmodel.yaml", Example(name), $"TokenformerGen.Examples.{name}Family");
        Assert.Equal(parameters, family.Const<long>("Released", "Parameters"));
    }

    // Parameter counts worked out by hand in the specs' comments: vocab·d + L·(6·d·n_qkv + 2·d·n_proj + 2·d·n_ffn) + 2·d.
    [Theory]
    [InlineData("PaperProgressive", "P124M", 123_569_664L)]
    [InlineData("PaperProgressive", "P354M", 354_190_848L)]
    [InlineData("PaperProgressive", "P757M", 753_796_608L)]   // Table 9: 4850 tokens
    [InlineData("PaperProgressive", "P1_4B", 1_309_705_728L)] // Table 9: 8620 tokens
    [InlineData("GpuDemo", "Base354M", 353_503_232L)]
    [InlineData("GpuDemo", "Grown757M", 756_156_416L)]
    public void TheProgressiveFamiliesHaveThePaperSizes(string name, string stage, long parameters)
    {
        var (_, family) = Generate($"/examples/{name}.tfmodel.yaml", Example(name), $"TokenformerGen.Examples.{name}Family");
        Assert.Equal(parameters, family.Const<long>(stage, "Parameters"));
    }

    [Fact]
    public void TauFixedKeepsTheParentTauAcrossZeroKeysGrowth()
    {
        var (_, family) = Generate(Specs.Path, Specs.Tiny, "Test.Models.TinyFamily");
        Assert.Equal(Math.Sqrt(32), family.Const<double>("Small", "QkvTau"));
        Assert.Equal(Math.Sqrt(32), family.Const<double>("Large", "QkvTau"));
        Assert.Equal(Math.Sqrt(128), family.Const<double>("Large", "FfnTau"));
        Assert.True(family.Const<bool>("Large", "PreservesFunction"));
        Assert.Equal("Small", family.Const<string>("Large", "GrowsFrom"));
        Assert.Equal("zero_keys", family.Const<string>("Large", "Growth"));
        Assert.Equal(0.125, family.Const<double>("ValueInitStd")); // 2 / (2 · √64)
    }

    [Fact]
    public void TauTokensSetTheRootsTauAndZeroKeysGrowthKeepsIt()
    {
        var spec = Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: fixed, tau_tokens: { qkv: 9, proj: 16, ffn: 400 }, epsilon: 0 }"));
        var (_, family) = Generate(Specs.Path, spec, "Test.Models.TinyFamily");
        foreach (var stage in new[] { "Small", "Large" })
        {
            Assert.Equal(3.0, family.Const<double>(stage, "QkvTau"));
            Assert.Equal(4.0, family.Const<double>(stage, "ProjTau"));
            Assert.Equal(20.0, family.Const<double>(stage, "FfnTau"));
        }

        Assert.True(family.Const<bool>("Large", "PreservesFunction"));
        Assert.Equal(32, family.Const<int>("Small", "QkvTokens")); // the counts themselves are the stage's
    }

    [Fact]
    public void RandomGrowthUnderTauTokensStillTakesItsOwnSqrtN()
    {
        var spec = Specs.Edit(
            (12, "  pattention: { norm: l2_norm_gelu, tau: fixed, tau_tokens: { qkv: 9, proj: 16, ffn: 400 }, epsilon: 0 }"),
            (21, "    growth: random"));
        var run = GeneratorHarness.Run((Specs.Path, spec));
        var family = new GeneratedFamily(run.Output, "Test.Models.TinyFamily");
        Assert.Equal(3.0, family.Const<double>("Small", "QkvTau"));
        Assert.Equal(8.0, family.Const<double>("Large", "QkvTau"));
        Assert.Single(run.Diagnostics); // the random-growth warning
    }

    [Theory]
    [InlineData("sqrt_n", "zero_keys", 8.0, false)]
    [InlineData("fixed", "random", 8.0, false)]
    public void TauIsTheStagesOwnSqrtNOtherwise(string tau, string growth, double largeQkvTau, bool preserves)
    {
        var spec = Specs.Edit(
            (12, $"  pattention: {{ norm: l2_norm_gelu, tau: {tau}, epsilon: 0 }}"),
            (21, "    growth: " + growth));
        var run = GeneratorHarness.Run((Specs.Path, spec));
        var family = new GeneratedFamily(run.Output, "Test.Models.TinyFamily");
        Assert.Equal(largeQkvTau, family.Const<double>("Large", "QkvTau"));
        Assert.Equal(preserves, family.Const<bool>("Large", "PreservesFunction"));
        Assert.Single(run.Diagnostics); // the function-preservation warning
    }

    [Fact]
    public void TheSpecTextAndItsHashAreEmbeddedExactly()
    {
        var spec = Specs.Tiny + "# \"quotes\", back\\slash, tab\t, τ, emoji 🙂\r\n";
        var (_, family) = Generate(Specs.Path, spec, "Test.Models.TinyFamily");
        var text = family.Const<string>("SpecText");
        Assert.Equal(spec, text);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec))), family.Const<string>("SpecSha256"));
    }

    [Fact]
    public void ConsumerCodeUsesTheConstantsWithoutWarnings()
    {
        var consumer = CSharpSyntaxTree.ParseText(
            """
            namespace Consumer
            {
                /// <summary>Uses the generated constants.</summary>
                public static class Uses
                {
                    /// <summary>A constant expression over generated constants.</summary>
                    public const long Growth = Test.Models.TinyFamily.Large.Parameters - Test.Models.TinyFamily.Small.Parameters;

                    /// <summary>Nullable-aware use of a root stage's parent.</summary>
                    public static int ParentLength() => Test.Models.TinyFamily.Small.GrowsFrom?.Length ?? 0;

                    /// <summary>Stage names.</summary>
                    public static int Stages() => Test.Models.TinyFamily.StageNames.Count;
                }
            }
            """,
            GeneratorHarness.ParseOptions);
        var run = GeneratorHarness.Run(
            [new InMemoryAdditionalText(Specs.Path, Specs.Tiny)],
            GeneratorHarness.EmptyCompilation.AddSyntaxTrees(consumer));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileDiagnostics());
    }

    [Theory]
    [InlineData("Test.Models.TinyLarge.GrowFrom(new Test.Models.TinySmall())", null)]                        // the edge Small → Large
    [InlineData("Test.Models.TinyLarge.GrowFrom(new Test.Models.TinyLarge())", "CS1503")]                    // Large → Large is no edge
    [InlineData("Test.Models.TinySmall.GrowFrom(new Test.Models.TinyLarge())", "CS0117")]                    // a root stage grows from nothing
    public void OnlyEdgesOfTheScheduleCompileAsGrowths(string call, string? error)
    {
        var consumer = CSharpSyntaxTree.ParseText(
            "namespace Consumer { internal static class Grow { internal static object Run() => " + call + "; } }",
            GeneratorHarness.ParseOptions);
        var run = GeneratorHarness.Run([new InMemoryAdditionalText(Specs.Path, Specs.Tiny)], GeneratorHarness.EmptyCompilation.AddSyntaxTrees(consumer));
        var errors = run.CompileDiagnostics().Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).Select(d => d.Id).ToList();
        if (error is null) Assert.Empty(errors);
        else Assert.Equal([error], errors);
    }
}
