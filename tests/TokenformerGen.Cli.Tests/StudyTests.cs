using System.Text.Json;
using TokenformerGen.Cli.Commands;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Scaling.Study;

namespace TokenformerGen.Cli.Tests;

/// <summary>The study over seeds and budget scales on the Mini family: its run folders, its aggregates, resuming and refusals.</summary>
public sealed class StudyTests
{
    private static readonly string[] Quick = ["--evals", "2", "--eval-batches", "2", "--scratch", "all"];

    [Fact]
    public void EverySettingIsAnOrdinaryRunAndTheStudyAggregatesTheirRatiosOverSeeds()
    {
        var folder = TestData.NewDirectory("study");
        var output = TestCli.Ok(["study", "--out", folder, "--seeds", "2", "--scales", "0.2,0.4", .. Quick]);
        Assert.Contains("study of Mini: budget scales 0.2, 0.4 × seed pairs 1234/1, 7/2 = 4 runs", output);
        Assert.Contains("Mini study: mean (min–max) over seeds, test split", output);

        // Each setting's folder holds what `run` with its seeds and scale makes, bit for bit in its results.
        var alone = TestData.NewDirectory("study-alone");
        TestCli.Ok(["run", "--out", alone, "--seed", "7", "--data-seed", "2", "--scale", "0.4", .. Quick]);
        Assert.Equal(Stages(Path.Combine(alone, "results.json")), Stages(Path.Combine(folder, "scale-0.4", "seed-7-2", "results.json")));

        // Per scale: the mean, min and max of each run's own ratios, read back from the runs' results.json.
        using var study = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "study.json")));
        var scales = study.RootElement.GetProperty("scales").EnumerateArray().ToList();
        Assert.Equal([0.2, 0.4], scales.Select(s => s.GetProperty("scale").GetDouble()));
        foreach (var row in scales)
        {
            var scale = row.GetProperty("scale").GetDouble();
            var ratios = new[] { "seed-1234-1", "seed-7-2" }.Select(seed => Comparison(Path.Combine(folder, $"scale-{scale:R}", seed, "results.json"))).ToList();
            Assert.Equal(2, row.GetProperty("seeds").GetInt32());
            foreach (var (name, read) in new (string, Func<JsonElement, JsonElement>)[]
            {
                ("ratio", c => c.GetProperty("at_baseline_loss").GetProperty("ratio")),
                ("reverse_ratio", c => c.GetProperty("reverse_ratio")),
                ("family_ratio", c => c.GetProperty("family").GetProperty("ratio")),
                ("progressive_loss", c => c.GetProperty("progressive_loss")),
            })
            {
                var values = ratios.Select(read).Where(v => v.ValueKind == JsonValueKind.Number).Select(v => v.GetDouble()).ToList();
                var spread = row.GetProperty(name);
                if (values.Count == 0)
                {
                    Assert.Equal(JsonValueKind.Null, spread.ValueKind);
                    continue;
                }
                Assert.Equal(values.Count, spread.GetProperty("count").GetInt32());
                Assert.Equal(values.Sum() / values.Count, spread.GetProperty("mean").GetDouble(), 12);
                Assert.Equal(values.Min(), spread.GetProperty("min").GetDouble());
                Assert.Equal(values.Max(), spread.GetProperty("max").GetDouble());
            }
        }

        // Each run's forward ratios, read off its seeds' runs at its scale and above, are among its figures.
        foreach (var run in study.RootElement.GetProperty("runs").EnumerateArray())
            foreach (var name in new[] { "forward_ratio", "forward_family_ratio" })
            {
                var ratio = run.GetProperty("figures").GetProperty(name);
                if (ratio.ValueKind != JsonValueKind.Null)
                    Assert.Contains(ratio.GetProperty("kind").GetString(), Enum.GetNames<RatioKind>());
            }

        var markdown = File.ReadAllText(Path.Combine(folder, "study.md"));
        Assert.Contains("forward family ratio (per seed)", markdown);
        Assert.Contains("## Per budget scale, mean (min–max) over seeds (test split)", markdown);
        Assert.Contains("## Per budget scale, mean (min–max) over seeds (validation split)", markdown);
        Assert.Contains("| 0.4 | 7/2 |", markdown);
        foreach (var png in new[] { "ratio-vs-scale.png", "curves-scale-0.2.png", "curves-scale-0.4.png" })
            Assert.True(new FileInfo(Path.Combine(folder, png)).Length > 10_000, png);
    }

    [Fact]
    public void TheSameStudyResumesMoreSeedsExtendItAndAnotherIsRefused()
    {
        var folder = TestData.NewDirectory("study-resume");
        string[] study = ["study", "--out", folder, "--seeds", "1", "--scales", "0.2", .. Quick];
        TestCli.Ok(study);
        var trained = Path.Combine(folder, "scale-0.2", "seed-1234-1", "progressive", "Large.safetensors");
        var written = File.GetLastWriteTimeUtc(trained);

        // Again: nothing is trained again, every stage is found finished.
        var again = TestCli.Ok(study);
        Assert.Contains("(resuming what it holds)", again);
        Assert.Equal(written, File.GetLastWriteTimeUtc(trained));

        // A second seed pair adds its run folder and leaves the first alone.
        TestCli.Ok(["study", "--out", folder, "--seeds", "2", "--scales", "0.2", .. Quick]);
        Assert.True(File.Exists(Path.Combine(folder, "scale-0.2", "seed-7-2", "results.json")));
        Assert.Equal(written, File.GetLastWriteTimeUtc(trained));

        foreach (var (command, expected) in new (string[], string)[]
        {
            ([.. study, "--lr-schedule", "restart"], "lr_schedule is 'global' there, 'restart' here"),
            (["run", "--out", folder, .. Quick], "format is 'tokenformer-gen/study/1' there, 'tokenformer-gen/run/3' here"),
            ([.. study, "--seed", "7"], "study takes its seeds from --seeds and its budgets from --scales"),
            (["study", "--out", folder, "--seeds", "9"], "--seeds 9: give 1..8"),
            (["study", "--out", folder, "--seeds", "1/2,x"], "--seeds: 'x' is not SEED/DATA-SEED"),
            (["study", "--out", folder, "--scales", "1,-2"], "--scales: '-2' is not a positive number"),
        })
        {
            var result = TestCli.Run(command);
            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains(expected, Assert.Single(result.ErrorLines));
        }
    }

    [Fact]
    public void ABaselineFamilyRunsInItsOwnFolderAtTheProgressiveComputeAndIsReportedBesideTheFrontier()
    {
        var folder = TestData.NewDirectory("baseline-family");
        string[] run = ["run", "--out", folder, "--scale", "0.2", "--evals", "2", "--eval-batches", "2", "--scratch", "frontier", "--baseline-family", "Twin"];
        var output = TestCli.Ok(run);
        Assert.Contains("baseline family Twin at the same compute: grown Small", output);
        Assert.True(File.Exists(Path.Combine(folder, "baseline-Twin", "run.json")));
        Assert.True(File.Exists(Path.Combine(folder, "baseline-Twin", "progressive", "Large.safetensors")));

        var summary = File.ReadAllText(Path.Combine(folder, "summary.md"));
        Assert.Contains("## Every reference at equal compute (whole test split)", summary);
        Assert.Contains("| Twin grown |", summary);
        Assert.Contains("| Twin Large from scratch |", summary);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")));
        var gaps = results.RootElement.GetProperty("equal_compute").EnumerateArray().ToList();
        Assert.Equal(["Small", "Large", "Twin grown", "Twin Small", "Twin Large"], gaps.Select(g => g.GetProperty("stage").GetString()));

        // Again: the baseline's stages are found finished, not trained again.
        var trained = Path.Combine(folder, "baseline-Twin", "scratch", "Large.safetensors");
        var written = File.GetLastWriteTimeUtc(trained);
        TestCli.Ok(run);
        Assert.Equal(written, File.GetLastWriteTimeUtc(trained));

        // Without --baseline-family the report leaves Twin out, and says so rather than dropping it silently.
        var without = TestCli.Ok(run[..^2]);
        const string note = "Also in this run folder, not in this report: baseline-Twin/; their checkpoints keep their results, and the same command with --baseline-family Twin reports them without training them again.";
        Assert.Contains("Also in this run folder, not in this report: baseline-Twin/", without);
        Assert.Contains(note, File.ReadAllText(Path.Combine(folder, "summary.md")));
        Assert.DoesNotContain("| Twin grown |", File.ReadAllText(Path.Combine(folder, "summary.md")));

        foreach (var (command, expected) in new (string[], string)[]
        {
            (["run", "--scale", "0.2", "--baseline-family", "Neo"], "--baseline-family: baseline family Neo reads other tokens"),
            (["run", "--scale", "0.2", "--scratch", "all", "--baseline-family", "Twin"], "use largest or frontier"),
            (["run", "--scale", "0.2", "--baseline-family", "Mini"], "is the family it would be compared with"),
            (["run", "--scale", "0.2", "--lr", "0"], "--lr and --baseline-lr must be positive"),
            (["run", "--scale", "0.2", "--baseline-lr", "1e-3"], "give --baseline-family too"),
        })
        {
            var result = TestCli.Run(command);
            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains(expected, Assert.Single(result.ErrorLines));
        }
    }

    [Fact]
    public void TheHelpNamesTheSeedPairsAndSmokeScaleTheStudyUses()
    {
        Assert.Equal(StudyCommand.SeedListText, string.Join(", ", TokenformerGen.Scaling.Study.SeedPair.Standard));
        Assert.Equal(StudyCommand.SmokeScaleText, StudyCommand.SmokeScale.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Stages(string results)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(results));
        return json.RootElement.GetProperty("progressive").GetProperty("curve").GetRawText() + json.RootElement.GetProperty("scratch").GetProperty("curve").GetRawText();
    }

    private static JsonElement Comparison(string results)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(results));
        return json.RootElement.GetProperty("comparison").Clone();
    }
}
