using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Tests;

/// <summary>The commands on a Transformer family grown in depth (Twin): train, grow, inspect, eval, generate and export.</summary>
public sealed class TransformerCommandTests
{
    [Fact]
    public void ATransformerTrainsGrowsByStackingEvaluatesAndExportsToOnnx()
    {
        var directory = TestData.NewDirectory("twin");
        var run = Path.Combine(directory, "small");
        TestCli.Ok("train", "--family", "Twin", "--stage", "Small", "--steps", "4", "--out", run);
        var small = TrainingCheckpoints.Latest(run)!;

        var large = Path.Combine(directory, "large.safetensors");
        var grown = TestCli.Ok("grow", "--from", small, "--stage", "Large", "--out", large, "--check", "--data", TestData.Corpus);
        Assert.Contains("layers stack", grown);

        var inspected = TestCli.Ok("inspect", "--family", "Twin");
        Assert.Contains("transformer blocks", inspected);
        Assert.Matches(@"Large\s*│\s*Small \(layers stack\)\s*│\s*2\s*│\s*96", inspected);
        Assert.Contains("growth map Small → Large (spec: layers stack; changes it)", inspected);

        Assert.Contains("validation loss", TestCli.Ok("eval", "--checkpoint", large));
        var onnx = Path.Combine(directory, "onnx");
        Assert.Contains("Twin/Large", TestCli.Ok("export", "--checkpoint", large, "--onnx", onnx));
        Assert.Contains("Twin/Large", TestCli.Ok("generate", "--onnx", onnx, "--prompt", "In the", "--length", "4", "--temperature", "0"));
    }

    [Fact]
    public void TheOfficialLayoutRefusesATransformerInOneLine()
    {
        var directory = TestData.NewDirectory("twin-official");
        var run = Path.Combine(directory, "small");
        TestCli.Ok("train", "--family", "Twin", "--stage", "Small", "--steps", "1", "--out", run);
        var small = TrainingCheckpoints.Latest(run)!;
        TestCli.Fails("Twin/Small is a Transformer, and the official TokenFormer layout and trainer hold Pattention blocks only", "export", "--checkpoint", small, "--official", Path.Combine(directory, "official"));
        TestCli.Fails("Twin/Small is a Transformer", "export", "--checkpoint", small, "--neox", Path.Combine(directory, "neox"));
        TestCli.Fails("Twin/Small is a Transformer", "import", "--family", "Twin", "--stage", "Small", "--official", small, "--out", Path.Combine(directory, "imported.safetensors"));
    }

    [Fact]
    public void AMiniCheckpointIsNotTakenForATwinStage()
        => TestCli.Fails("is a checkpoint of Mini/Small", "train", "--family", "Twin", "--stage", "Small", "--from", MiniCheckpoints.Small, "--steps", "1", "--out", TestData.NewDirectory("twin-from-mini"));
}
