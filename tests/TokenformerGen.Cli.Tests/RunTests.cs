using System.Text.Json;
using System.Text.RegularExpressions;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Scaling;

namespace TokenformerGen.Cli.Tests;

/// <summary>The whole schedule and its compute-matched baseline on the Mini family in seconds; the run folder's identity.</summary>
public sealed class RunTests
{
    [Fact]
    public void RunWritesTheReportThePlotMetricsAndCheckpoints()
    {
        var folder = TestData.NewDirectory("run");
        var output = TestCli.Ok("run", "--out", folder, "--evals", "4", "--eval-batches", "4");

        Assert.Contains("Mini: progressive vs compute-matched scratch", output);
        // 2 stages of 30 steps (3840 tokens / (4 × 32)) at 61,440 (Small) and 75,264 (Large) training FLOPs per token
        // (3 · (2 · (6·n_qkv·16 + 2·n_proj·16 + 2·n_ffn·16 + 4·16·32) + 2·16·256)); the baseline spends their FLOPs on
        // Large: ceil(30 · (61,440 + 75,264) / 75,264) = ceil(54.49) = 55 steps.
        Assert.Contains("baseline: Large from scratch, 55 steps", output);
        Assert.Matches(@"Small → Large\s*│\s*zero_keys\s*│\s*\S+\s*│\s*\S+\s*│\s*\S+\s*│\s*preserved", output);
        Assert.Matches(@"to reach scratch Large's final loss \d\.\d{4}\s*│", output);
        Assert.Matches(@"to reach the progressive run's final loss \d\.\d{4}\s*│", output);
        Assert.Contains("at equal compute", output);

        var summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        Assert.Contains("| progressive | Small |", summary);
        Assert.Contains("| scratch | Large (compute-matched) | 10,528 | 55 |", summary);
        Assert.DoesNotContain("| scratch | Small", summary);
        Assert.Contains("## Growth checks", summary);
        Assert.Contains("## Against the compute-matched baseline", summary);
        Assert.Contains("| training FLOPs |", summary);
        Assert.Contains("- compute: device `cpu`, precision `fp32`", summary);
        Assert.Contains("![test loss against cumulative training FLOPs](loss-vs-flops.png)", summary);
        Assert.Contains("## Against the compute-matched baseline (test split)", summary);
        Assert.Contains("| final test loss |", summary);
        // Mini's Large is grown with zero_keys under tau: fixed and keeps Small's τ; from scratch it trains with its own, its
        // checkpoint says so, and so does the report.
        var (scratchLarge, grownLarge) = (Path.Combine(folder, "scratch", "Large.safetensors"), Path.Combine(folder, "progressive", "Large.safetensors"));
        Assert.True(Checkpoint.ReadMetadata(scratchLarge).OwnTau);
        Assert.False(Checkpoint.ReadMetadata(grownLarge).OwnTau);
        Assert.Contains("√12/√16/√48", TestCli.Ok("inspect", "--checkpoint", scratchLarge));
        Assert.Contains("√8/√8/√32", TestCli.Ok("inspect", "--checkpoint", grownLarge));
        // The official trainer always has √n: only the grown model's borrowed τ is a caveat of its export.
        Assert.DoesNotContain("is not √n of the token counts", TestCli.Ok("export", "--checkpoint", scratchLarge, "--official", TestData.NewDirectory("official-scratch")));
        Assert.Contains("is not √n of the token counts", TestCli.Ok("export", "--checkpoint", grownLarge, "--official", TestData.NewDirectory("official-grown")));
        Assert.Contains("From scratch each stage has the τ of its own counts (qkv/proj/ffn), as it would trained on its own: Large √12/√16/√48, where the grown Large keeps √8/√8/√32.", summary);

        var png = File.ReadAllBytes(Path.Combine(folder, "loss-vs-flops.png"));
        Assert.True(png.Length > 10_000, $"the plot has only {png.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var root = results.RootElement;
        Assert.Equal(("cpu", "fp32"), (root.GetProperty("options").GetProperty("device").GetString(), root.GetProperty("options").GetProperty("precision").GetString()));
        var growth = root.GetProperty("growths")[0];
        Assert.InRange(Math.Abs(growth.GetProperty("loss_after").GetDouble() - growth.GetProperty("loss_before").GetDouble()), 0, 1e-4);
        var baseline = root.GetProperty("scratch").GetProperty("stages")[0];
        Assert.Equal(("Large", 55), (baseline.GetProperty("stage").GetString(), baseline.GetProperty("steps").GetInt32()));
        var comparison = root.GetProperty("comparison");
        var progressiveFlops = comparison.GetProperty("progressive_flops").GetDouble();
        var baselineFlops = comparison.GetProperty("baseline_flops").GetDouble();
        Assert.InRange(baselineFlops, progressiveFlops, progressiveFlops * 1.05);   // at least as much, less than one step more
        // Results are read on the test split; the same comparison on the validation split is beside it.
        Assert.Equal("test", comparison.GetProperty("split").GetString());
        Assert.Equal(baseline.GetProperty("test_loss").GetDouble(), comparison.GetProperty("at_baseline_loss").GetProperty("target_loss").GetDouble());
        Assert.Equal(root.GetProperty("progressive").GetProperty("stages")[1].GetProperty("test_loss").GetDouble(),
                     comparison.GetProperty("at_progressive_loss").GetProperty("target_loss").GetDouble());
        var onValidation = root.GetProperty("comparison_validation");
        Assert.Equal(baseline.GetProperty("validation_loss").GetDouble(), onValidation.GetProperty("at_baseline_loss").GetProperty("target_loss").GetDouble());
        Assert.NotEqual(baseline.GetProperty("validation_loss").GetDouble(), baseline.GetProperty("test_loss").GetDouble());

        // Validation at step 0, every steps / evaluations (30 / 4 = 7; the baseline gets 4 per progressive stage: 55 / 8 = 6), and at the end.
        foreach (var (mode, stage, steps, evaluations) in new[] { ("progressive", "Small", 30L, 6), ("progressive", "Large", 30L, 6), ("scratch", "Large", 55L, 11) })
        {
            var path = Path.Combine(folder, mode, $"{stage}.safetensors");
            Assert.Equal((stage, steps), (Checkpoint.ReadMetadata(path).Stage, Checkpoint.ReadMetadata(path).Step));
            Assert.True(File.Exists(Checkpoint.OptimizerPathFor(path)), $"{path} has no optimizer state");
            Assert.False(Directory.Exists(Path.Combine(folder, mode, stage)), "a finished stage keeps no step checkpoints");
            var lines = File.ReadAllLines(Path.Combine(folder, mode, $"{stage}.metrics.jsonl"));
            Assert.Equal(steps, lines.Count(l => l.Contains("\"loss\"", StringComparison.Ordinal)));
            Assert.Equal(evaluations, lines.Count(l => l.Contains("\"val_loss\"", StringComparison.Ordinal)));
        }
        Assert.False(File.Exists(Path.Combine(folder, "scratch", "Small.safetensors")));
        Assert.Matches(new Regex(@"progressive\s*│\s*Large"), output);

        // The command line's defaults are the schedule runner's (the ablation's choice).
        using var identity = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "run.json")));
        var entries = identity.RootElement.GetProperty("identity");
        var defaults = new ScheduleOptions();
        Assert.Equal(OptionNames.Kebab(defaults.OptimizerGrowth), entries.GetProperty("optimizer_growth").GetString());
        Assert.Equal(OptionNames.Kebab(defaults.LearningRates), entries.GetProperty("lr_schedule").GetString());
        Assert.Equal(OptionNames.Kebab(defaults.Scratch), entries.GetProperty("scratch").GetString());
        Assert.Equal(TokenformerGen.Cli.Commands.TrainingSettings.DefaultOptimizerGrowth, OptionNames.Kebab(defaults.OptimizerGrowth));   // what --help says
        Assert.Equal(TokenformerGen.Cli.Commands.RunSettings.DefaultLearningRates, OptionNames.Kebab(defaults.LearningRates));

        // The same command again finds everything finished and writes the same numbers.
        var again = TestCli.Ok("run", "--out", folder, "--evals", "4", "--eval-batches", "4");
        Assert.Contains("resuming what it holds", again);
        using var second = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        Assert.Equal(root.GetProperty("comparison").GetRawText(), second.RootElement.GetProperty("comparison").GetRawText());
        Assert.Equal(root.GetProperty("progressive").GetProperty("curve").GetRawText(), second.RootElement.GetProperty("progressive").GetProperty("curve").GetRawText());
    }

    [Fact]
    public void ScratchAllAddsEveryStageAndTakesTheRootFromTheProgressiveRun()
    {
        // With its own warmup and cosine per stage the progressive root trained exactly as a scratch root would.
        var folder = TestData.NewDirectory("run-all");
        var output = TestCli.Ok("run", "--out", folder, "--evals", "2", "--eval-batches", "2", "--scratch", "all", "--lr-schedule", "restart");
        Assert.Contains("and every other stage from scratch for the progressive run's FLOPs up to it", output);
        Assert.Contains("the family: every stage from scratch", output);
        Assert.Matches(@"family ratio\s*│[^\n]*ratio (< )?\d\.\d\d", output);
        var summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        Assert.Contains("| scratch | Small (= progressive) |", summary);
        Assert.Contains("| scratch | Large (compute-matched) |", summary);
        Assert.False(File.Exists(Path.Combine(folder, "scratch", "Small.safetensors")), "the root was trained twice");

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var progressiveSmall = results.RootElement.GetProperty("progressive").GetProperty("stages")[0].GetRawText();
        Assert.Equal(progressiveSmall, results.RootElement.GetProperty("scratch").GetProperty("stages")[0].GetRawText());
        Assert.Contains("## The family (test split)", summary);
        var family = results.RootElement.GetProperty("comparison").GetProperty("family");
        Assert.Equal(["Small", "Large"], family.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("stage").GetString()));
        Assert.InRange(family.GetProperty("ratio").GetDouble(), 0.01, 1.5);
    }

    [Fact]
    public void AnotherCommandAgainstARunFolderIsRefusedAndChangesNothing()
    {
        var folder = TestData.NewDirectory("run-identity");
        string[] command = ["run", "--out", folder, "--evals", "2", "--eval-batches", "2", "--scale", "0.2"];
        TestCli.Ok(command);
        var before = Snapshot(folder);

        var otherData = Path.Combine(TestData.NewDirectory("other-data"), "other.txt");
        File.WriteAllText(otherData, string.Concat(Enumerable.Repeat("the other corpus has other words in it. ", 200)));
        foreach (var (extra, expected) in new (string[], string)[]
        {
            (["--lr-schedule", "restart"], "lr_schedule is 'global' there, 'restart' here"),
            (["--optimizer-growth", "keep"], "optimizer_growth is 'keep-zero' there, 'keep' here"),
            (["--seed", "7"], "seed is '1234' there, '7' here"),
            (["--scratch", "all"], "scratch is 'largest' there, 'all' here"),
            (["--data", otherData], "data is 'corpus.byte."),
            (["--family", "Neo"], "family is 'Mini' there, 'Neo' here"),
        })
        {
            var result = TestCli.Run([.. command, .. extra]);
            Assert.True(result.ExitCode == 1, result.ToString());
            var line = Assert.Single(result.ErrorLines);
            Assert.Contains($"error: {folder} holds another run (run.json): ", line);
            Assert.Contains(expected, line);
            Assert.EndsWith("Give another --out, or repeat the command that made it to resume it.", line);
        }
        Assert.Equal(before, Snapshot(folder));

        // A folder with files that are not a run is refused too.
        var strange = TestData.NewDirectory("not-a-run");
        File.WriteAllText(Path.Combine(strange, "notes.md"), "mine");
        var refused = TestCli.Run("run", "--out", strange, "--scale", "0.2");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("is not empty and holds no run.json, so it is not a run folder of this tool (it has notes.md)", refused.Error);
        Assert.Equal(["notes.md"], Directory.GetFileSystemEntries(strange).Select(Path.GetFileName).Where(n => n != ".lock"));
    }

    // Every file's name, length and last write time.
    private static List<string> Snapshot(string folder)
        => Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(folder, f)} {new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f):O}").ToList();
}
