using TokenformerGen.Generator.Tests.Infrastructure;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Tests;

/// <summary>Transformer blocks (<c>architecture.block</c>) and depth growth (<c>stages[].layers</c>, <c>growth.layers</c>) in the spec format.</summary>
public sealed class BlockAndDepthTests
{
    // Lines: 7 architecture, 8 block, 12 mlp_hidden, 13 rotary, 16 "- name: Small", 18 "- name: Large", 19 from,
    // 20 layers, 21 growth.
    private const string Transformer =
        """
        schema: tokenformer/v1
        family: TinyTransformer
        namespace: Test.Models
        tokenizer: byte
        vocab: { size: 256, pad_to_multiple: 64 }
        context: 64
        architecture:
          block: transformer
          layers: 1
          hidden: 64
          heads: 4
          mlp_hidden: 384
          rotary: { fraction: 0.25, base: 10000 }
          tied_embeddings: true
        stages:
          - name: Small
            train: { tokens: 100_000, learning_rate: 6.0e-4, warmup: 0.01, batch: 8 }
          - name: Large
            from: Small
            layers: 2
            growth: { layers: stack }

        """;

    private const string Path = "/specs/TinyTransformer.tfmodel.yaml";

    [Fact]
    public void ATransformerGrownInDepthGeneratesCodeThatCompiles()
    {
        var run = GeneratorHarness.Run((Path, Transformer));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileDiagnostics());
        var large = run.Sources["TinyTransformer.Large.g.cs"];
        Assert.Contains("public Mlp Mlp => mlp;", large, StringComparison.Ordinal);
        Assert.Contains("new Projection(64, 384, name: \"up\")", large, StringComparison.Ordinal);
        Assert.Contains("var blocks = new Block[2];", large, StringComparison.Ordinal);
        // Block 1 of Large is a copy of block 0 of Small.
        Assert.Contains("new(\"layers.1.mlp.down.weight\", new long[] { 64, 384 }, new long[] { 64, 384 }, GrowAxis: null, KeptRows: 64, Source: \"layers.0.mlp.down.weight\")",
                        run.Sources["TinyTransformer.SmallToLarge.g.cs"], StringComparison.Ordinal);
    }

    [Fact]
    public void ATokenformerGrownInDepthByIdentityKeepsItsFunctionAndZeroesOnlyOutputWeights()
    {
        var spec = Specs.Edit((21, "    growth: { layers: identity }"), (22, "    tokens: { qkv: 32, proj: 32, ffn: 128 }\n    layers: 3"));
        var run = GeneratorHarness.Run((Specs.Path, spec));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompileDiagnostics());
        var edge = run.Sources["Tiny.SmallToLarge.g.cs"];
        Assert.Contains("PreservesFunction: new(/* zero_keys */ true, /* random */ true)", edge, StringComparison.Ordinal);
        Assert.Contains("new(\"layers.2.mlp.value_param_tokens\", new long[0], new long[] { 128, 64 }, GrowAxis: 0, KeptRows: 0, NewRows: new(/* zero_keys */ NewRows.Zero, /* random */ NewRows.Zero))", edge, StringComparison.Ordinal);
        Assert.Contains("new(\"layers.2.attention.proj.value_param_tokens\", new long[0], new long[] { 32, 64 }, GrowAxis: 0, KeptRows: 0, NewRows: new(/* zero_keys */ NewRows.Zero, /* random */ NewRows.Zero))", edge, StringComparison.Ordinal);
        Assert.Contains("new(\"layers.2.attention.query.key_param_tokens\", new long[0], new long[] { 32, 64 }, GrowAxis: 0, KeptRows: 0, NewRows: new(/* zero_keys */ NewRows.Normal(0.02), /* random */ NewRows.Normal(0.02)))", edge, StringComparison.Ordinal);
    }

    [Fact]
    public void PattentionOnlyOptionsTokensOnATransformerAndDepthThatShrinksAreAllReportedAtTheirLines()
    {
        // Transformer with: 14 pattention, 18 growth on a root, 22 layers: 0 and 23 tokens on a stage.
        var spec = Specs.Replace(Specs.Replace(Specs.Replace(Transformer, 20, "    layers: 0\n    tokens: { qkv: 8, proj: 8, ffn: 32 }"), 16, "  - name: Small\n    growth: random"), 13, "  rotary: { fraction: 0.25, base: 10000 }\n  pattention: { tau: fixed }");
        var run = GeneratorHarness.Run((Path, spec));
        var found = run.Diagnostics.Select(GeneratorHarness.Where).Select(d => (d.Id, d.Line, d.Column)).Order().ToList();
        Assert.Equal([("TFG0201", 22, 13), ("TFG0209", 14, 3), ("TFG0209", 18, 13), ("TFG0209", 23, 5)], found);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void AttributesDeclareTheSameTransformerAsTheYaml()
    {
        const string code =
            """
            using TokenformerGen.Declarations;
            using TokenformerGen.Families; using TokenformerGen.Text.Families;

            namespace Test.Models
            {
                /// <summary>The twin of the YAML spec.</summary>
                [TokenformerFamily(Tokenizer = TokenizerKind.Byte, Vocabulary = 256, PadToMultiple = 64, Context = 64, Block = BlockKind.Transformer,
                    Layers = 1, Hidden = 64, Heads = 4, MlpHidden = 384)]
                [TokenformerStage("Small", TrainTokens = 100_000, LearningRate = 6.0e-4, Warmup = 0.01, Batch = 8)]
                [TokenformerStage("Large", From = "Small", Layers = 2, LayerGrowth = LayerGrowth.Stack)]
                public static partial class TinyTransformerFamily { }
            }
            """;
        var declared = GeneratorHarness.RunCode([("/src/TinyTransformerFamily.cs", code)]);
        Assert.True(declared.Diagnostics.IsEmpty, GeneratorHarness.Format(declared.Diagnostics));
        Assert.True(declared.CompileDiagnostics().Count == 0, string.Join("\n", declared.CompileDiagnostics()));
        var yaml = GeneratorHarness.Run((Path, Transformer));
        foreach (var file in new[] { "TinyTransformer.Large.g.cs", "TinyTransformer.SmallToLarge.g.cs" })
            Assert.Equal(yaml.Sources[file].Split('\n').Skip(2), declared.Sources[file].Split('\n').Skip(2));   // past the header naming the source

        var tokensOnATransformer = GeneratorHarness.RunCode([("/src/TinyTransformerFamily.cs", code.Replace("LayerGrowth = LayerGrowth.Stack", "LayerGrowth = LayerGrowth.Stack, Qkv = 8", StringComparison.Ordinal))]);
        Assert.Equal("TFG0209", Assert.Single(tokensOnATransformer.Diagnostics).Id);
    }

    [Fact]
    public void MlpHiddenOnATokenformerAndAWidthChangeAreReported()
    {
        var spec = Specs.Edit((10, "  heads: 4\n  mlp_hidden: 256"), (22, "    tokens: { qkv: 64, proj: 64, ffn: 256 }\n    hidden: 128"));
        var run = GeneratorHarness.Run((Specs.Path, spec));
        var found = run.Diagnostics.Select(GeneratorHarness.Where).Select(d => (d.Id, d.Line, d.Column)).Order().ToList();
        Assert.Equal([("TFG0209", 11, 3), ("TFG0306", 24, 13)], found);
    }
}
