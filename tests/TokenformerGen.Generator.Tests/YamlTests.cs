extern alias GeneratorAssembly;

using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>YAML as users write it: comments, flow style, anchors, aliases, merge keys, number forms.</summary>
public class YamlTests
{
    private static GeneratedFamily Generate(string spec)
    {
        var run = GeneratorHarness.Run((Specs.Path, spec));
        Assert.True(run.Diagnostics.IsEmpty, GeneratorHarness.Format(run.Diagnostics));
        return new GeneratedFamily(run.Output, "Test.Models.TinyFamily");
    }

    [Fact]
    public void CommentsAndBlankLinesAreIgnored()
    {
        var spec = Specs.Edit(
            (6, "# the context\ncontext: 64   # tokens\n"),
            (17, "    tokens: { qkv: 32, proj: 32, ffn: 128 }  # 4 × qkv"));
        Assert.Equal(64, Generate(spec).Const<int>("Context"));
    }

    [Fact]
    public void BlockAndFlowStylesMeanTheSame()
    {
        var block = Specs.Edit((17, "    tokens:\n      qkv: 32\n      proj: 32\n      ffn: 128"));
        var family = Generate(block);
        Assert.Equal(128, family.Const<int>("Small", "FfnTokens"));
        Assert.Equal(Generate(Specs.Tiny).Const<long>("Small", "Parameters"), family.Const<long>("Small", "Parameters"));
    }

    [Fact]
    public void AliasesReuseAnAnchoredValue()
    {
        var spec = Specs.Edit(
            (17, "    tokens: &small { qkv: 32, proj: 32, ffn: 128 }"),
            (22, "    tokens: { qkv: 64, proj: 64, ffn: 256 }\n    train: &budget { tokens: 1000, learning_rate: 1e-3, warmup: 0, batch: 4 }"));
        var family = Generate(spec);
        Assert.Equal(32, family.Const<int>("Small", "QkvTokens"));
        Assert.Equal(1000L, family.Const<long>("Large", "TrainTokens"));
    }

    [Fact]
    public void MergeKeysTakeABaseAndExplicitKeysWin()
    {
        var spec = Specs.Edit(
            (7, "x-base: &base { qkv: 32, proj: 32, ffn: 128 }\nx-more: &more { ffn: 999, proj: 48 }\narchitecture:"),
            (17, "    tokens: *base"),
            (22, "    tokens: { <<: [*more, *base], qkv: 64 }"));
        var family = Generate(spec);
        Assert.Equal(64, family.Const<int>("Large", "QkvTokens"));  // explicit key wins
        Assert.Equal(999, family.Const<int>("Large", "FfnTokens")); // first merge source wins
        Assert.Equal(48, family.Const<int>("Large", "ProjTokens"));
        Assert.Equal(128, family.Const<int>("Small", "FfnTokens"));
    }

    [Fact]
    public void AnUnknownKeyReachedThroughAMergeIsReportedWhereItIsWritten()
    {
        var spec = Specs.Edit(
            (7, "x-base: &base { qkv: 32, proj: 32, ffn: 128, bias: 1 }\narchitecture:"),
            (17, "    tokens: { <<: *base }"));
        var run = GeneratorHarness.Run((Specs.Path, spec));
        Assert.Equal(("TFG0101", Specs.Path, 7, 46), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void AnAliasBeforeItsAnchorIsAnErrorNotACrash()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((17, "    tokens: *later"))));
        Assert.Equal(("TFG0001", Specs.Path, 17, 13), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void AMergeOfAScalarIsATypeError()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((17, "    tokens: { <<: 5, qkv: 32, proj: 32, ffn: 128 }"))));
        Assert.Equal(("TFG0103", Specs.Path, 17, 19), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Theory]
    [InlineData("6e-4", 6e-4)]
    [InlineData("6.0e-4", 6e-4)]
    [InlineData("0.0006", 6e-4)]
    [InlineData(".5", 0.5)]
    [InlineData("1", 1.0)]
    [InlineData("+2.5E+1", 25.0)]
    public void NumbersInDecimalAndExponentForm(string literal, double expected)
    {
        var spec = Specs.Edit((18, $"    train: {{ tokens: 100_000, learning_rate: {literal}, warmup: 0.01, batch: 8 }}"));
        Assert.Equal(expected, Generate(spec).Const<double>("Small", "LearningRate"));
    }

    [Theory]
    [InlineData("2_000_000", 2_000_000L)]
    [InlineData("2e6", 2_000_000L)]
    [InlineData("300e9", 300_000_000_000L)]
    [InlineData("1_000", 1_000L)]
    public void IntegersMayUseUnderscoresAndIntegralExponents(string literal, long expected)
    {
        var spec = Specs.Edit((18, $"    train: {{ tokens: {literal}, learning_rate: 6e-4, warmup: 0.01, batch: 8 }}"));
        Assert.Equal(expected, Generate(spec).Const<long>("Small", "TrainTokens"));
    }

    [Theory]
    [InlineData("'64'", "TFG0103")]                      // quoted: a string
    [InlineData("64.5", "TFG0103")]                      // not integral
    [InlineData("0x40", "TFG0103")]                      // no hex
    [InlineData("1__000", "TFG0103")]                    // one underscore between digits
    [InlineData("99999999999999999999999999", "TFG0105")] // beyond 64 bits
    [InlineData("1e30", "TFG0105")]
    [InlineData("-5", "TFG0201")]
    [InlineData("20000000", "TFG0105")]                  // beyond the supported maximum
    [InlineData("[64]", "TFG0103")]
    [InlineData("~", "TFG0103")]                         // null
    public void BadIntegersAreDiagnostics(string literal, string id)
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((6, "context: " + literal))));
        Assert.Equal((id, Specs.Path, 6, 10), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void AnEmptyValueIsLocatedRightAfterItsKey()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((6, "context:"))));
        Assert.Equal(("TFG0103", Specs.Path, 6, 9), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Theory]
    [InlineData("1e400", "TFG0105")]
    [InlineData(".inf", "TFG0103")]
    [InlineData(".nan", "TFG0103")]
    [InlineData("-0.5", "TFG0201")]
    [InlineData("true", "TFG0103")]
    public void BadNumbersAreDiagnostics(string literal, string id)
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((11, $"  rotary: {{ fraction: 0.25, base: {literal} }}"))));
        Assert.Equal((id, Specs.Path, 11, 35), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void AllErrorsOfAFileArriveInOneBuild()
    {
        var spec = Specs.Edit(
            (4, "tokenizer: bpe"),                                   // TFG0104
            (8, "  layers: 2\n  dropout: 0.1"),                      // TFG0101
            (10, "  heads: 5"),                                      // TFG0202
            (14, "  tied_embeddings: yes"),                          // TFG0103
            (20, "    from: Nowhere"),                               // TFG0302
            (22, "    tokens: { qkv: -1, proj: 64 }"));              // TFG0102 (at the flow mapping's '{'), TFG0201
        var run = GeneratorHarness.Run((Specs.Path, spec));

        Assert.Equal(
            [
                ("TFG0104", 4, 12), ("TFG0101", 9, 3), ("TFG0103", 15, 20), ("TFG0102", 23, 13),
                ("TFG0202", 11, 10), ("TFG0201", 23, 20), ("TFG0302", 21, 11),
            ],
            run.Diagnostics.Select(GeneratorHarness.Where).Select(d => (d.Id, d.Line, d.Column)).ToList());
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void ExtensionKeysAtTheTopHoldAnchorsAndAreOtherwiseIgnored()
    {
        var spec = Specs.Edit((1, "schema: tokenformer/v1\nx-notes: { anything: [1, 2, 3] }"));
        Assert.Equal("Tiny", Generate(spec).Const<string>("Name"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void AnEmptyFileLacksASchema(string text)
    {
        var run = GeneratorHarness.Run((Specs.Path, text));
        Assert.Equal(("TFG0004", Specs.Path, 1, 1), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void AControlCharacterIsASyntaxErrorNotACrash()
    {
        // Found by the fuzz test: YamlDotNet throws InvalidOperationException on NUL inside a flow mapping.
        var run = GeneratorHarness.Run((Specs.Path, Specs.Edit((5, "vocab: { size: 256, pad_to_mult\0iple: 64 }"))));
        Assert.Equal(("TFG0001", Specs.Path, 5, 32), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void ASecondDocumentIsRejected()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Tiny + "---\nfamily: Other\n"));
        Assert.Equal(("TFG0002", Specs.Path, 23, 1), GeneratorHarness.Where(Assert.Single(run.Diagnostics)));
    }

    [Fact]
    public void FilesWithOtherExtensionsAreNotSpecs()
    {
        var run = GeneratorHarness.Run(("/specs/Tiny.yaml", Specs.Tiny), ("/specs/notes.txt", "garbage: ["));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.Sources);
    }
}
