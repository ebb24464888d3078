extern alias GeneratorAssembly;
using GeneratorAssembly::TokenformerGen.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using TokenformerGen.Families;
using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>
/// The attribute front end: families declared with [TokenformerFamily]/[TokenformerStage] go through
/// the same validator, planner and emitters as YAML specs, with diagnostics at the attribute argument.
/// </summary>
public class AttributeTests
{
    private static readonly string[] TinyFiles = ["Tiny.Family.g.cs", "Tiny.Large.g.cs", "Tiny.Registry.g.cs", "Tiny.Small.g.cs", "Tiny.SmallToLarge.g.cs"];

    /// <summary>ID, what is wrong, the declaration, and the expected 1-based line and column in <see cref="AttributeSpecs.Path"/>.</summary>
    public static TheoryData<string, string, string, int, int> Cases => new()
    {
        // Semantic diagnostics of the shared validator, at the argument.
        { "TFG0201", "a non-positive size", AttributeSpecs.Edit((13, "    Layers = 0,")), 13, 5 },
        { "TFG0202", "hidden not divisible by heads", AttributeSpecs.Edit((15, "    Heads = 5,")), 15, 5 },
        { "TFG0203", "odd rotary dimensions", AttributeSpecs.Edit((16, "    RotaryFraction = 0.1875,")), 16, 5 },
        { "TFG0204", "rotary dimensions beyond the head", AttributeSpecs.Edit((16, "    RotaryFraction = 2,")), 16, 5 },
        { "TFG0205", "a family name that is not a type name", AttributeSpecs.Edit((27, "public static partial class tinyFamily")), 27, 29 },
        { "TFG0206", "a keyword in the namespace", AttributeSpecs.Edit((6, "namespace Test.@class;")), 6, 11 },
        { "TFG0207", "a stage named like a generated member", AttributeSpecs.Edit((26, "[TokenformerStage(\"Parameters\", Qkv = 64, Proj = 64, Ffn = 256)]")), 26, 19 },
        { "TFG0208", "a vocabulary smaller than the byte tokenizer's", AttributeSpecs.Edit((10, "    Vocabulary = 100,")), 10, 5 },
        { "TFG0209", "ValueStd without ValueInit = Normal", AttributeSpecs.Edit((23, "    EmbeddingStd = 0.02, ValueStd = 0.1,")), 23, 26 },
        { "TFG0209", "TauQkvTokens without Tau = Fixed (one stage, so no growth warning)", AttributeSpecs.Edit((19, "    Tau = TauPolicy.SqrtN, TauQkvTokens = 64, TauProjTokens = 64, TauFfnTokens = 256,"), (26, "")), 19, 28 },
        { "TFG0210", "untied embeddings", AttributeSpecs.Edit((24, "    TiedEmbeddings = false)]")), 24, 5 },
        { "TFG0301", "a stage name used twice (ignoring case)", AttributeSpecs.Edit((26, "[TokenformerStage(\"SMALL\", Qkv = 64, Proj = 64, Ffn = 256)]")), 26, 19 },
        { "TFG0302", "growth from an unknown stage", AttributeSpecs.Edit((26, "[TokenformerStage(\"Large\", From = \"Medium\", Growth = GrowthPolicy.ZeroKeys, Qkv = 64, Proj = 64, Ffn = 256)]")), 26, 28 },
        { "TFG0303", "growth from a later stage", AttributeSpecs.Edit((25, "[TokenformerStage(\"Small\", From = \"Large\", Growth = GrowthPolicy.ZeroKeys, Qkv = 16, Proj = 16, Ffn = 64)]"), (26, "[TokenformerStage(\"Large\", Qkv = 64, Proj = 64, Ffn = 256)]")), 25, 28 },
        { "TFG0304", "a cycle", AttributeSpecs.Edit((25, "[TokenformerStage(\"Small\", From = \"Large\", Growth = GrowthPolicy.ZeroKeys, Qkv = 32, Proj = 32, Ffn = 128)]")), 25, 28 },
        { "TFG0305", "a token count that shrinks", AttributeSpecs.Edit((26, "[TokenformerStage(\"Large\", From = \"Small\", Growth = GrowthPolicy.ZeroKeys, Qkv = 16, Proj = 64, Ffn = 256)]")), 26, 76 },
        { "TFG0307", "a growth policy on a root stage", AttributeSpecs.Edit((25, "[TokenformerStage(\"Small\", Growth = GrowthPolicy.Random, Qkv = 32, Proj = 32, Ffn = 128)]")), 25, 28 },
        { "TFG0501", "random growth (warning)", AttributeSpecs.Edit((26, "[TokenformerStage(\"Large\", From = \"Small\", Growth = GrowthPolicy.Random, Qkv = 64, Proj = 64, Ffn = 256)]")), 26, 44 },
        { "TFG0502", "zero_keys with tau sqrt_n (warning)", AttributeSpecs.Edit((19, "    Tau = TauPolicy.SqrtN,")), 26, 44 },
        { "TFG0503", "zero_keys with softmax (warning)", AttributeSpecs.Edit((18, "    Norm = PattentionNorm.Softmax,")), 26, 44 },
        // What the reader checks: required, typed and ranged arguments.
        { "TFG0102", "a missing required argument, at the attribute's name", AttributeSpecs.Edit((15, "")), 8, 2 },
        { "TFG0102", "TauQkvTokens without TauFfnTokens", AttributeSpecs.Edit((19, "    Tau = TauPolicy.Fixed, TauQkvTokens = 64, TauProjTokens = 64,")), 8, 2 },
        { "TFG0104", "an enum value that is no member", AttributeSpecs.Edit((18, "    Norm = (PattentionNorm)7,")), 18, 5 },
        { "TFG0105", "a non-finite number", AttributeSpecs.Edit((20, "    Epsilon = double.PositiveInfinity,")), 20, 5 },
        { "TFG0106", "no stages", AttributeSpecs.Edit((25, ""), (26, "")), 8, 2 },
        // Misuse of the attributes, on their own syntax.
        { "TFG0601", "a class that is not partial", AttributeSpecs.Edit((27, "public static class TinyFamily")), 27, 21 },
        { "TFG0602", "a nested class", AttributeSpecs.Edit((7, "public static partial class Outer {"), (29, "}}")), 27, 29 },
        { "TFG0603", "a generic class", AttributeSpecs.Edit((27, "public partial class TinyFamily<T>")), 27, 32 },
        { "TFG0604", "a class in the global namespace", AttributeSpecs.Edit((6, "")), 26, 29 },
        { "TFG0605", "a class name without the Family suffix", AttributeSpecs.Edit((27, "public static partial class Tiny")), 27, 29 },
        { "TFG0606", "a stage attribute without a family attribute", AttributeSpecs.Edit((8, "[System.Obsolete("), (9, "\"no family\")]")) , 25, 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReportsAtTheOffendingArgument(string id, string why, string code, int line, int column)
    {
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, code)]);

        var ours = run.Diagnostics.Where(d => d.Id.StartsWith("TFG", StringComparison.Ordinal)).ToList();
        Assert.True(
            ours.Count >= 1 && GeneratorHarness.Where(ours[0]) == (id, AttributeSpecs.Path, line, column),
            $"{why}: expected {id} at {AttributeSpecs.Path}({line},{column}), got:\n{GeneratorHarness.Format(run.Diagnostics)}");
        Assert.All(ours.Skip(1), d => Assert.Equal(id, d.Id)); // nothing else (TFG0606 reports each stray stage)
        Assert.DoesNotContain(run.Diagnostics, d => d.Id == "CS8785");
        var severity = DiagnosticDescriptors.All[id].DefaultSeverity;
        if (severity == DiagnosticSeverity.Error)
        {
            Assert.Empty(run.Sources);
        }
        else
        {
            Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal));
            Assert.Empty(run.CompileDiagnostics());
        }
    }

    [Fact]
    public void TheTwinOfTheTinySpecHasNoDiagnosticsAndCompiles()
    {
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Tiny)]);
        Assert.Empty(run.Diagnostics);
        Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal));
        Assert.Empty(run.CompileDiagnostics());
    }

    [Fact]
    public void TFG0607AStageOnAnotherPartOfThePartialClass()
    {
        var other = """
            namespace Test.Models;

            [TokenformerGen.Declarations.TokenformerStage("Huge", From = "Large", Growth = TokenformerGen.Families.GrowthPolicy.ZeroKeys, Qkv = 128, Proj = 128, Ffn = 512)]
            public static partial class TinyFamily
            {
            }
            """;
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Tiny), ("/src/TinyFamily.More.cs", other)]);

        var diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal(("TFG0607", "/src/TinyFamily.More.cs", 3, 2), GeneratorHarness.Where(diagnostic));
        Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal)); // the family itself is fine
    }

    [Fact]
    public void TFG0608AnArgumentTheCompilerCannotEvaluate()
    {
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Edit((15, "    Heads = \"4\",")))]);

        var ours = run.Diagnostics.Where(d => d.Id.StartsWith("TFG", StringComparison.Ordinal)).ToList();
        Assert.Equal(("TFG0608", AttributeSpecs.Path, 15, 5), GeneratorHarness.Where(Assert.Single(ours)));
        Assert.Contains(run.Output.GetDiagnostics(), d => d.Id == "CS0029"); // the compiler's own error stays
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void TFG0401AYAMLFamilyAndAnAttributeFamilyWithOneName()
    {
        var run = GeneratorHarness.RunCode(
            [(AttributeSpecs.Path, AttributeSpecs.Tiny)],
            [new InMemoryAdditionalText(Specs.Path, Specs.Tiny)]);

        var found = run.Diagnostics.Select(GeneratorHarness.Where).OrderBy(d => d.File, StringComparer.Ordinal).ToList();
        Assert.Equal([("TFG0401", Specs.Path, 2, 9), ("TFG0401", AttributeSpecs.Path, 27, 29)], found);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void EveryMisuseIDHasATest()
    {
        var tested = Cases.Select(c => (string)c[0]).Concat(["TFG0607", "TFG0608"]).ToHashSet();
        Assert.All(DiagnosticDescriptors.All.Keys.Where(id => id.StartsWith("TFG06", StringComparison.Ordinal)), id => Assert.Contains(id, tested));
    }

    [Fact]
    public void AYAMLFamilyAndItsAttributeTwinGenerateTheSameModels()
    {
        var yaml = GeneratorHarness.Run((Specs.Path, Specs.Tiny));
        var declared = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Tiny)]);

        Assert.Equal(yaml.Sources.Keys.Order(StringComparer.Ordinal), declared.Sources.Keys.Order(StringComparer.Ordinal));
        foreach (var name in new[] { "Tiny.Small.g.cs", "Tiny.Large.g.cs", "Tiny.SmallToLarge.g.cs" })
        {
            Assert.Equal(WithoutHeader(yaml.Sources[name]), WithoutHeader(declared.Sources[name]));
        }

        // The constants are the same numbers; only the class declaration, the source and the spec text differ.
        var a = new GeneratedFamily(yaml.Output, "Test.Models.TinyFamily");
        var b = new GeneratedFamily(declared.Output, "Test.Models.TinyFamily");
        foreach (var stage in new[] { "Small", "Large" })
        {
            foreach (var constant in new[] { "Parameters", "ForwardFlopsPerToken", "QkvTokens", "FfnTokens", "QkvTau", "FfnTau" })
            {
                Assert.Equal(a.Type.GetTypeMembers(stage).Single().GetMembers(constant).OfType<IFieldSymbol>().Single().ConstantValue,
                             b.Type.GetTypeMembers(stage).Single().GetMembers(constant).OfType<IFieldSymbol>().Single().ConstantValue);
            }
        }

        Assert.Equal("TinyFamily.cs", b.Const<string>("SourceFile"));
        Assert.StartsWith("[TokenformerFamily(", b.Const<string>("SpecText"), StringComparison.Ordinal);
        Assert.EndsWith("Ffn = 256)]", b.Const<string>("SpecText"), StringComparison.Ordinal);
        Assert.True(b.Type.IsStatic);
    }

    [Fact]
    public void TauTokensReadTheSameFromBothFrontEnds()
    {
        var yaml = GeneratorHarness.Run((Specs.Path, Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: fixed, tau_tokens: { qkv: 64, proj: 16, ffn: 256 }, epsilon: 0 }"))));
        var declared = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Edit((19, "    Tau = TauPolicy.Fixed, TauQkvTokens = 64, TauProjTokens = 16, TauFfnTokens = 256,")))]);
        Assert.Empty(yaml.Diagnostics);
        Assert.Empty(declared.Diagnostics);
        var a = new GeneratedFamily(yaml.Output, "Test.Models.TinyFamily");
        var b = new GeneratedFamily(declared.Output, "Test.Models.TinyFamily");
        foreach (var stage in new[] { "Small", "Large" })
        {
            Assert.Equal((8.0, 4.0, 16.0), (b.Const<double>(stage, "QkvTau"), b.Const<double>(stage, "ProjTau"), b.Const<double>(stage, "FfnTau")));
            Assert.Equal(a.Const<double>(stage, "QkvTau"), b.Const<double>(stage, "QkvTau"));
            Assert.Equal(a.Const<double>(stage, "ProjTau"), b.Const<double>(stage, "ProjTau"));
            Assert.Equal(a.Const<double>(stage, "FfnTau"), b.Const<double>(stage, "FfnTau"));
        }
    }

    [Fact]
    public void TheUsersClassGetsTheMembersAndKeepsItsModifiers()
    {
        var run = GeneratorHarness.RunCode([("/src/MinimalFamily.cs", AttributeSpecs.Minimal)]);
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileDiagnostics());

        var family = new GeneratedFamily(run.Output, "Test.Declared.MinimalFamily");
        Assert.Equal(Accessibility.Internal, family.Type.DeclaredAccessibility);
        Assert.False(family.Type.IsStatic);
        Assert.Equal("Minimal", family.Const<string>("Name"));
        Assert.Equal(0.25, family.Const<double>("RotaryFraction"));   // defaults are the YAML defaults
        Assert.Equal("sqrt_n", family.Const<string>("Tau"));
        Assert.Equal(1, family.Const<int>("VocabularyPadMultiple"));
        Assert.False(family.Const<bool>("Only", "HasTrainingBudget"));
        Assert.Contains(family.Type.GetMembers(), m => m.Name == "Describe"); // the user's own member
    }

    [Fact]
    public void ConstantsFoldedByTheCompilerAreReadAsValues()
    {
        var code = AttributeSpecs.Edit(
            (14, "    Hidden = Sizes.Width,"),
            (28, "{\n}\ninternal static class Sizes { public const int Width = 32 * 2; }"));
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, code)]);
        Assert.Empty(run.Diagnostics);
        Assert.Equal(64, new GeneratedFamily(run.Output, "Test.Models.TinyFamily").Const<int>("Hidden"));
    }

    [Fact]
    public void MessagesNameTheAttributeArgument()
    {
        var run = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Edit((13, "    Layers = -1,")))]);
        Assert.Equal("Layers must be positive, but is -1", Assert.Single(run.Diagnostics).GetMessage());

        run = GeneratorHarness.RunCode([(AttributeSpecs.Path, AttributeSpecs.Edit((26, "[TokenformerStage(\"Large\", From = \"Small\", Growth = GrowthPolicy.ZeroKeys, Qkv = 64, Proj = 0, Ffn = 256)]")))]);
        Assert.Contains("Proj of stage 'Large' must be positive", run.Diagnostics.First(d => d.Id == "TFG0201").GetMessage(), StringComparison.Ordinal);
    }

    private static string WithoutHeader(string source)
        => string.Join('\n', source.Split('\n').SkipWhile(line => line.StartsWith("//", StringComparison.Ordinal)));
}
