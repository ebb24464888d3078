using System.Text.Json;
using System.Text.RegularExpressions;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;

namespace TokenformerGen.Cli.Tests;

/// <summary>The whole schedule, progressive and scratch, on the Mini family in seconds.</summary>
public sealed class RunTests
{
    [Fact]
    public void RunWritesTheReportThePlotMetricsAndCheckpoints()
    {
        var folder = TestData.NewDirectory("run");
        var output = TestCli.Ok("run", "--out", folder, "--evals", "4", "--eval-batches", "4");

        Assert.Contains("Mini: progressive vs scratch", output);
        Assert.Matches(@"Small → Large\s*│\s*zero_keys\s*│\s*\S+\s*│\s*\S+\s*│\s*\S+\s*│\s*preserved", output);
        Assert.Contains("compute to reach scratch Large's final validation loss", output);

        var summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        Assert.Contains("| progressive | Small |", summary);
        Assert.Contains("| scratch | Large |", summary);
        Assert.Contains("## Growth checks", summary);
        Assert.Contains("| ratio progressive / scratch |", summary);
        Assert.Contains("![validation loss against cumulative training FLOPs](loss-vs-flops.png)", summary);

        var png = File.ReadAllBytes(Path.Combine(folder, "loss-vs-flops.png"));
        Assert.True(png.Length > 10_000, $"the plot has only {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var growth = results.RootElement.GetProperty("growths")[0];
        Assert.InRange(Math.Abs(growth.GetProperty("loss_after").GetDouble() - growth.GetProperty("loss_before").GetDouble()), 0, 1e-4);
        Assert.Equal(30, results.RootElement.GetProperty("scratch").GetProperty("stages")[1].GetProperty("steps").GetInt32());   // 3840 tokens / (4 × 32)

        foreach (var mode in new[] { "progressive", "scratch" })
            foreach (var stage in new[] { "Small", "Large" })
            {
                var metadata = Checkpoint.ReadMetadata(Path.Combine(folder, mode, $"{stage}.safetensors"));
                Assert.Equal((stage, 30L), (metadata.Stage, metadata.Step));
                var lines = File.ReadAllLines(Path.Combine(folder, mode, $"{stage}.metrics.jsonl"));
                Assert.Equal(30, lines.Count(l => l.Contains("\"loss\"", StringComparison.Ordinal)));
                Assert.InRange(lines.Count(l => l.Contains("\"val_loss\"", StringComparison.Ordinal)), 4, 8);   // at step 0, every ~30/4 steps, and at the end
            }
        Assert.Matches(new Regex(@"progressive\s*│\s*Large"), output);
    }
}
