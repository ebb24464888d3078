extern alias GeneratorAssembly;
using GeneratorAssembly::TokenformerGen.Generator.Diagnostics;
using Microsoft.CodeAnalysis;
using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>One test per diagnostic ID: the exact ID, file, line and column of the offending node.</summary>
public class DiagnosticTests
{
    /// <summary>ID, what is wrong, the spec, and the expected 1-based line and column.</summary>
    public static TheoryData<string, string, string, int, int> Cases => new()
    {
        { "TFG0001", "syntax error: a character that cannot start a token", Specs.Edit((6, "context: @64")), 6, 10 },
        { "TFG0001", "a tab used for indentation, at the tab", Specs.Edit((9, "\thidden: 64")), 9, 1 },
        { "TFG0001", "a tab after spaces, at the tab", Specs.Edit((9, "  \thidden: 64")), 9, 3 },
        { "TFG0002", "a tag", Specs.Edit((6, "context: !!int 64")), 6, 10 },
        { "TFG0003", "a key given twice", Specs.Edit((6, "context: 64\ncontext: 128")), 7, 1 },
        { "TFG0004", "no schema key: reported at the root mapping", Specs.Edit((1, ""), (2, "family: Tiny")), 1, 1 },
        { "TFG0005", "another schema version", Specs.Edit((1, "schema: tokenformer/v2")), 1, 9 },
        { "TFG0101", "an unknown key, at the key", Specs.Edit((9, "  hidden: 64\n  dropout: 0.1")), 10, 3 },
        { "TFG0102", "a missing key, at the mapping", Specs.Edit((1, "schema: tokenformer/v1"), (6, "")), 1, 1 },
        { "TFG0102", "tau_tokens without ffn, at its mapping", Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: fixed, tau_tokens: { qkv: 64, proj: 64 }, epsilon: 0 }")), 12, 61 },
        { "TFG0103", "a mistyped value", Specs.Edit((6, "context: sixty-four")), 6, 10 },
        { "TFG0104", "an invalid choice", Specs.Edit((4, "tokenizer: bpe")), 4, 12 },
        { "TFG0104", "a misspelt tau beside tau_tokens: one error, at tau", Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: fxed, tau_tokens: { qkv: 64, proj: 64, ffn: 256 }, epsilon: 0 }")), 12, 42 },
        { "TFG0105", "a number too large for 64 bits", Specs.Edit((6, "context: 1e400")), 6, 10 },
        { "TFG0106", "no stages", Specs.Edit((15, "stages: []"), (16, ""), (17, ""), (18, ""), (19, ""), (20, ""), (21, ""), (22, "")), 15, 9 },
        { "TFG0201", "a non-positive size", Specs.Edit((8, "  layers: 0")), 8, 11 },
        { "TFG0201", "a non-positive tau_tokens count", Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: fixed, tau_tokens: { qkv: 0, proj: 64, ffn: 256 }, epsilon: 0 }")), 12, 68 },
        { "TFG0202", "hidden not divisible by heads", Specs.Edit((10, "  heads: 5")), 10, 10 },
        { "TFG0203", "odd rotary dimensions: int(0.1875 * 16) = 3", Specs.Edit((11, "  rotary: { fraction: 0.1875, base: 10000 }")), 11, 23 },
        { "TFG0204", "rotary dimensions beyond the head: int(2 * 16) = 32", Specs.Edit((11, "  rotary: { fraction: 2.0, base: 10000 }")), 11, 23 },
        { "TFG0205", "a family name that is not a type name", Specs.Edit((2, "family: tiny")), 2, 9 },
        { "TFG0206", "a keyword in the namespace", Specs.Edit((3, "namespace: Test.class")), 3, 12 },
        { "TFG0207", "a stage named like a generated member", Specs.Edit((16, "  - name: Parameters"), (20, "    from: Parameters")), 16, 11 },
        { "TFG0208", "a vocabulary smaller than the byte tokenizer's", Specs.Edit((5, "vocab: { size: 100, pad_to_multiple: 64 }")), 5, 16 },
        { "TFG0209", "value_std without value: normal", Specs.Edit((13, "  init: { key_std: 0.02, value: wang, value_std: 0.1 }")), 13, 39 },
        { "TFG0209", "tau_tokens without tau: fixed (a one-stage family, so no growth warning)", Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: sqrt_n, tau_tokens: { qkv: 64, proj: 64, ffn: 256 }, epsilon: 0 }"), (19, ""), (20, ""), (21, ""), (22, "")), 12, 50 },
        { "TFG0210", "untied embeddings", Specs.Edit((14, "  tied_embeddings: false")), 14, 20 },
        { "TFG0301", "a stage name used twice (ignoring case)", Specs.Edit((19, "  - name: SMALL")), 19, 11 },
        { "TFG0302", "growth from an unknown stage", Specs.Edit((20, "    from: Medium")), 20, 11 },
        { "TFG0303", "growth from a later stage", Specs.Edit((16, "  - name: Small\n    from: Large\n    growth: zero_keys"), (17, "    tokens: { qkv: 16, proj: 16, ffn: 64 }"), (20, ""), (21, "")), 17, 11 },
        { "TFG0304", "a cycle", Specs.Edit((16, "  - name: Small\n    from: Large\n    growth: zero_keys")), 17, 11 },
        { "TFG0305", "a token count that shrinks", Specs.Edit((22, "    tokens: { qkv: 16, proj: 64, ffn: 256 }")), 22, 20 },
        { "TFG0306", "a restated fixed dimension that differs", Specs.Edit((22, "    tokens: { qkv: 64, proj: 64, ffn: 256 }\n    hidden: 128")), 23, 13 },
        { "TFG0307", "a growth policy on a root stage", Specs.Edit((16, "  - name: Small\n    growth: random")), 17, 13 },
        { "TFG0308", "a stage shallower than its parent", Specs.Edit((22, "    tokens: { qkv: 64, proj: 64, ffn: 256 }\n    layers: 1")), 23, 13 },
        { "TFG0309", "a deeper stage without growth.layers", Specs.Edit((22, "    tokens: { qkv: 64, proj: 64, ffn: 256 }\n    layers: 3")), 21, 13 },
        { "TFG0501", "random growth (warning)", Specs.Edit((21, "    growth: random")), 21, 13 },
        { "TFG0502", "zero_keys with tau: sqrt_n (warning)", Specs.Edit((12, "  pattention: { norm: l2_norm_gelu, tau: sqrt_n, epsilon: 0 }"), (21, "    growth: zero_keys")), 21, 13 },
        { "TFG0503", "zero_keys with softmax (warning)", Specs.Edit((12, "  pattention: { norm: softmax, tau: fixed, epsilon: 0 }"), (21, "    growth: zero_keys")), 21, 13 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReportsAtTheOffendingNode(string id, string why, string spec, int line, int column)
    {
        var run = GeneratorHarness.Run((Specs.Path, spec));

        var diagnostics = run.Diagnostics;
        Assert.True(
            diagnostics.Length == 1 && GeneratorHarness.Where(diagnostics[0]) == (id, Specs.Path, line, column),
            $"{why}: expected only {id} at {Specs.Path}({line},{column}), got:\n{GeneratorHarness.Format(diagnostics)}");
        var severity = DiagnosticDescriptors.All[id].DefaultSeverity;
        Assert.Equal(severity, diagnostics[0].Severity);
        if (severity == DiagnosticSeverity.Error)
        {
            Assert.Empty(run.Sources); // an erroneous family generates nothing
        }
        else
        {
            Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal));
            Assert.Empty(run.CompileDiagnostics());
        }
    }

    [Fact]
    public void TheValidSpecHasNoDiagnostics()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Tiny));
        Assert.Empty(run.Diagnostics);
        Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal));
    }

    // Constants, one model per stage, one growth map per edge, and the registry.
    private static readonly string[] TinyFiles = ["Tiny.Family.g.cs", "Tiny.Large.g.cs", "Tiny.Registry.g.cs", "Tiny.Small.g.cs", "Tiny.SmallToLarge.g.cs"];

    [Fact]
    public void TFG0006UnreadableFile()
    {
        var run = GeneratorHarness.Run([new InMemoryAdditionalText("/specs/Gone.tfmodel.yaml", null)]);
        Assert.Equal(("TFG0006", "/specs/Gone.tfmodel.yaml", 1, 1), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void TFG0999AnExceptionInsideTheGeneratorIsADiagnosticNotCS8785()
    {
        var run = GeneratorHarness.Run([new ThrowingAdditionalText("/specs/Broken.tfmodel.yaml"), new InMemoryAdditionalText(Specs.Path, Specs.Tiny)]);
        var diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal(("TFG0999", "/specs/Broken.tfmodel.yaml", 1, 1), GeneratorHarness.Where(diagnostic));
        Assert.Contains("IOException: disk on fire", diagnostic.GetMessage(), StringComparison.Ordinal);
        Assert.Equal(TinyFiles, run.Sources.Keys.Order(StringComparer.Ordinal)); // the other family is unaffected
    }

    [Fact]
    public void TFG0401DuplicateFamilyNamesAreReportedAtBothDeclarations()
    {
        var other = Specs.Edit((2, "family: TINY"));
        var run = GeneratorHarness.Run(("/specs/a/Tiny.tfmodel.yaml", Specs.Tiny), ("/specs/b/Other.tfmodel.yaml", other));

        var found = run.Diagnostics.Select(GeneratorHarness.Where).OrderBy(d => d.File).ToList();
        Assert.Equal(
            [("TFG0401", "/specs/a/Tiny.tfmodel.yaml", 2, 9), ("TFG0401", "/specs/b/Other.tfmodel.yaml", 2, 9)],
            found);
        Assert.Contains("/specs/b/Other.tfmodel.yaml(2,9)", run.Diagnostics.Single(d => d.Location.GetLineSpan().Path.Contains("/a/")).GetMessage(), StringComparison.Ordinal);
        Assert.Empty(run.Sources); // both would be Tiny*.Family.g.cs: neither is generated
    }

    [Fact]
    public void EveryCataloguedIDHasATest()
    {
        var tested = Cases.Select(c => (string)c[0])
            .Concat(["TFG0006", "TFG0999", "TFG0401"])
            .Concat(AttributeTests.Cases.Select(c => (string)c[0]))
            .Concat(["TFG0607", "TFG0608"]) // AttributeTests' own facts
            .ToHashSet();
        Assert.DoesNotContain(DiagnosticDescriptors.All.Keys, id => !tested.Contains(id));
    }

    [Fact]
    public void TheReleaseNotesListEveryID()
    {
        var unshipped = File.ReadAllText(Path.Combine(RepoPaths.Root, "generators", "TokenformerGen.Generator", "Diagnostics", "AnalyzerReleases.Unshipped.md"));
        foreach (var descriptor in DiagnosticDescriptors.All.Values)
        {
            Assert.Contains($"{descriptor.Id} | {descriptor.Category} | {descriptor.DefaultSeverity} |", unshipped, StringComparison.Ordinal);
        }
    }
}
