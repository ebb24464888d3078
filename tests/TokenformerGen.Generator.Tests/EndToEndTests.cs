extern alias GeneratorAssembly;

using TokenformerGen.Generator.Tests.Generated;

namespace TokenformerGen.Generator.Tests;

/// <summary>
/// EndToEnd/EndToEnd.tfmodel.yaml is compiled by the real build of this project (the generator is a
/// ProjectReference analyzer, YamlDotNet loaded from beside it): these constants exist only if that worked.
/// </summary>
public class EndToEndTests
{
    [Fact]
    public void TheRealBuildGeneratedTheFamily()
    {
        // Read through locals: the analyzers want constants on the expected side only.
        string name = EndToEndFamily.Name;
        long small = EndToEndFamily.Small.Parameters, grown = EndToEndFamily.Grown.Parameters;
        double grownTau = EndToEndFamily.Grown.QkvTau;
        bool preserves = EndToEndFamily.Grown.PreservesFunction;

        Assert.Equal("EndToEnd", name);
        Assert.Equal(["Small", "Grown"], EndToEndFamily.StageNames);
        // 256·32 + 2·(6·32·8 + 2·32·8 + 2·32·16) + 2·32 = 8,192 + 6,144 + 64
        Assert.Equal(14_400L, small);
        // 8,192 + 2·(6·32·16 + 2·32·8 + 2·32·32) + 64 = 8,192 + 11,264 + 64
        Assert.Equal(19_520L, grown);
        Assert.Equal(Math.Sqrt(8), grownTau); // tau: fixed, zero_keys: kept from Small
        Assert.True(preserves);
    }

    [Fact]
    public void TheRealBuildGeneratedTheAttributeTwinWithTheSameNumbers()
    {
        string name = DeclaredEndToEndFamily.Name;
        long small = DeclaredEndToEndFamily.Small.Parameters, grown = DeclaredEndToEndFamily.Grown.Parameters;
        double grownTau = DeclaredEndToEndFamily.Grown.QkvTau;

        Assert.Equal("DeclaredEndToEnd", name);
        Assert.Equal(EndToEndFamily.Small.Parameters, small);
        Assert.Equal(EndToEndFamily.Grown.Parameters, grown);
        Assert.Equal(EndToEndFamily.Grown.QkvTau, grownTau);
        Assert.Equal("Small", DeclaredEndToEndGrown.Info.GrowsFrom);
        Assert.Equal(["Small", "Grown"], TokenformerGen.Modules.ModelRegistry.Family("DeclaredEndToEnd").Stages.Select(s => s.Info.Name));
    }
}
