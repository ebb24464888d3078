extern alias GeneratorAssembly;

using TokenformerGen.Generator.Tests.Infrastructure;
using TokenformerGen.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>Golden files of everything generated for the shipped example families.</summary>
public class BaselineTests
{
    // The study's variants of TinyKjv (other spans and pre-Large shares) are spec-only changes of a family whose generated
    // code the golden files above show, so they are checked to compile cleanly rather than kept as golden files too.
    [Fact]
    public void TheStudyVariantFamiliesCompileWithoutDiagnostics()
    {
        var specs = Directory.GetFiles(Path.Combine(RepoPaths.Examples, "studies"), "*.tfmodel.yaml")
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => ("examples/families/studies/" + Path.GetFileName(p), File.ReadAllText(p)))
            .ToArray();
        Assert.Equal(["TinyKjvLarge", "TinyKjvLargeTau256", "TinyKjvLargeTau512", "TinyKjvShare10", "TinyKjvShare20", "TinyKjvShare60", "TinyKjvSpan11", "TinyKjvSpan2", "TinyKjvSpan2Tau128", "TinyKjvTau256", "TinyKjvTau64"], specs.Select(s => Path.GetFileName(s.Item1).Split('.')[0]));
        var run = GeneratorHarness.Run(specs);
        Assert.True(run.Diagnostics.IsEmpty, GeneratorHarness.Format(run.Diagnostics));
        Assert.Empty(run.CompileDiagnostics());
    }

    [Fact]
    public void Examples()
    {
        var specs = Directory.GetFiles(RepoPaths.Examples, "*.tfmodel.yaml")
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => ("examples/families/" + Path.GetFileName(p), File.ReadAllText(p)))
            .ToArray();
        var run = GeneratorHarness.Run(specs);

        Assert.True(run.Diagnostics.IsEmpty, GeneratorHarness.Format(run.Diagnostics));
        Assert.Empty(run.CompileDiagnostics());
        Assert.Equal(
            [
                "GpuDemo.Base354M.g.cs", "GpuDemo.Base354MToGrown757M.g.cs", "GpuDemo.Family.g.cs", "GpuDemo.Grown757M.g.cs", "GpuDemo.Registry.g.cs",
                "Kjv8M.Family.g.cs", "Kjv8M.Large.g.cs", "Kjv8M.Medium.g.cs", "Kjv8M.MediumToLarge.g.cs", "Kjv8M.Registry.g.cs", "Kjv8M.Small.g.cs",
                "Kjv8M.SmallToMedium.g.cs",
                "PaperProgressive.Family.g.cs", "PaperProgressive.P124M.g.cs", "PaperProgressive.P124MToP354M.g.cs", "PaperProgressive.P1_4B.g.cs",
                "PaperProgressive.P354M.g.cs", "PaperProgressive.P354MToP757M.g.cs", "PaperProgressive.P757M.g.cs", "PaperProgressive.P757MToP1_4B.g.cs",
                "PaperProgressive.Registry.g.cs",
                "TinyKjv.Family.g.cs", "TinyKjv.Large.g.cs", "TinyKjv.Medium.g.cs", "TinyKjv.MediumToLarge.g.cs", "TinyKjv.Registry.g.cs", "TinyKjv.Small.g.cs",
                "TinyKjv.SmallToMedium.g.cs",
                "TinyKjvDepth.Family.g.cs", "TinyKjvDepth.Large.g.cs", "TinyKjvDepth.Medium.g.cs", "TinyKjvDepth.MediumToLarge.g.cs", "TinyKjvDepth.Registry.g.cs",
                "TinyKjvDepth.Small.g.cs", "TinyKjvDepth.SmallToMedium.g.cs",
                "TinyKjvStacked.Family.g.cs", "TinyKjvStacked.Large.g.cs", "TinyKjvStacked.Medium.g.cs", "TinyKjvStacked.MediumToLarge.g.cs", "TinyKjvStacked.Registry.g.cs",
                "TinyKjvStacked.Small.g.cs", "TinyKjvStacked.SmallToMedium.g.cs",
                "TinyKjvTransformer.Family.g.cs", "TinyKjvTransformer.Large.g.cs", "TinyKjvTransformer.Registry.g.cs",
                "TokenFormer150M.Family.g.cs", "TokenFormer150M.Registry.g.cs", "TokenFormer150M.Released.g.cs",
                "TokenFormer1_5B.Family.g.cs", "TokenFormer1_5B.Registry.g.cs", "TokenFormer1_5B.Released.g.cs",
                "TokenFormer450M.Family.g.cs", "TokenFormer450M.Registry.g.cs", "TokenFormer450M.Released.g.cs",
                "TokenFormer900M.Family.g.cs", "TokenFormer900M.Registry.g.cs", "TokenFormer900M.Released.g.cs",
            ],
            run.Sources.Keys.Order(StringComparer.Ordinal));
        Baseline.Match(Path.Combine(RepoPaths.Baselines, nameof(Examples)), run.Sources);
    }

    [Fact]
    public void Tiny()
    {
        var run = GeneratorHarness.Run((Specs.Path, Specs.Tiny));
        Baseline.Match(Path.Combine(RepoPaths.Baselines, nameof(Tiny)), run.Sources);
    }

    /// <summary>Representative attribute declarations: the twin of Tiny, a minimal one, one with every option set.</summary>
    [Fact]
    public void Attributes()
    {
        var run = GeneratorHarness.RunCode(
        [
            ("/src/TinyFamily.cs", AttributeSpecs.Tiny),
            ("/src/MinimalFamily.cs", AttributeSpecs.Minimal),
            ("/src/OptionsFamily.cs", AttributeSpecs.Options),
        ]);

        Assert.True(run.Diagnostics.IsEmpty, GeneratorHarness.Format(run.Diagnostics));
        Assert.Empty(run.CompileDiagnostics());
        Assert.Equal(
            [
                "Minimal.Family.g.cs", "Minimal.Only.g.cs", "Minimal.Registry.g.cs",
                "Options.Deep.g.cs", "Options.Family.g.cs", "Options.Registry.g.cs", "Options.Root.g.cs", "Options.RootToDeep.g.cs",
                "Options.RootToWide.g.cs", "Options.Wide.g.cs",
                "Tiny.Family.g.cs", "Tiny.Large.g.cs", "Tiny.Registry.g.cs", "Tiny.Small.g.cs", "Tiny.SmallToLarge.g.cs",
            ],
            run.Sources.Keys.Order(StringComparer.Ordinal));
        Baseline.Match(Path.Combine(RepoPaths.Baselines, nameof(Attributes)), run.Sources);
    }

    [Fact]
    public void AMismatchPrintsAReadableDiff()
    {
        var diff = Baseline.Diff("a\nb\nc\nd\n", "a\nb\nX\nd\n");
        Assert.Contains("- ", diff, StringComparison.Ordinal);
        Assert.Contains("c", diff, StringComparison.Ordinal);
        Assert.Contains("+ ", diff, StringComparison.Ordinal);
        Assert.Contains("X", diff, StringComparison.Ordinal);
    }
}
