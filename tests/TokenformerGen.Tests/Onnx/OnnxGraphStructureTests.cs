using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.Tests.Infrastructure;
using TokenformerGen.Tests.Support;

namespace TokenformerGen.Tests.Onnx;

/// <summary>
/// Golden files of the exported graphs' structure (operators in order, their inputs, outputs and attributes; no weights),
/// one per stage of every family compiled into the tests small enough to build in a moment, so that a change to an
/// export reads as a diff like a change to the generated code. Accept an intended change with TFG_ACCEPT_BASELINES=1.
/// </summary>
public sealed class OnnxGraphStructureTests
{
    private const long MaxParameters = 5_000_000;

    [Fact]
    public void EveryExportedGraphMatchesItsGoldenStructure()
    {
        var structures = new Dictionary<string, string>();
        foreach (var family in ModelRegistry.Families)
        {
            foreach (var stage in family.Stages.Where(s => s.Info.Parameters <= MaxParameters))
            {
                using var model = stage.Create();
                structures[$"{family.Name}.{stage.Info.Name}.onnx"] = OnnxExport.Build(model).Structure();
            }
        }
        Assert.Contains("TinyKjv.Large.onnx", structures.Keys);
        Baseline.Match(RepoFiles.Find("tests/TokenformerGen.Tests/Onnx/Graphs"), structures);
    }
}
