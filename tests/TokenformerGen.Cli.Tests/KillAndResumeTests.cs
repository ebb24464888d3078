using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Training;
using Xunit.Abstractions;

namespace TokenformerGen.Cli.Tests;

/// <summary>
/// kill -9 in the middle of `train` or `run`, the same command again, and every logged loss equals that of an
/// uninterrupted run exactly. The CLI runs as a separate process: this test assembly started with `dotnet exec`
/// (see Program.cs), over the Mini family.
/// </summary>
public sealed class KillAndResumeTests(ITestOutputHelper output)
{
    private const int Steps = 200;

    private static string[] Train(string folder, string precision, string family) =>
    [
        "train", "--family", family, "--stage", "Small", "--steps", Steps.ToString(CultureInfo.InvariantCulture), "--batch", "8",
        "--checkpoint-every", "10", "--eval-every", "100", "--metrics", Path.Combine(folder, "m.jsonl"), "--out", Path.Combine(folder, "run"),
        "--data", TestData.Corpus, "--cache", TestData.Cache, "--threads", "1",   // one thread: several processes share the cores
        "--precision", precision,
    ];

    [Theory]
    [InlineData("fp32", "Mini")]
    [InlineData("bf16", "Mini")]   // exact too: checkpoints hold the float32 master weights and moments, and bf16 runs are deterministic
    [InlineData("fp32", "Twin")]   // a Transformer stage
    public void KilledTrainingResumesWithTheLossesOfAnUninterruptedRun(string precision, string family)
    {
        _ = MiniCheckpoints.Small;   // the token cache exists before the processes start
        var uninterrupted = TestData.NewDirectory($"uninterrupted-{family}-{precision}");
        var killed = TestData.NewDirectory($"killed-{family}-{precision}");

        var reference = Host.Start(Train(uninterrupted, precision, family));
        var victim = Host.Start(Train(killed, precision, family));
        var latest = Path.Combine(killed, "run", TrainingCheckpoints.LatestFile);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(latest) && !victim.HasExited && clock.Elapsed < TimeSpan.FromMinutes(10)) Thread.Sleep(5);
        Assert.True(File.Exists(latest), "no checkpoint appeared: " + Host.Describe(victim));
        victim.Kill(entireProcessTree: true);   // SIGKILL: no chance to flush or clean up
        victim.WaitForExit();
        var killedAt = Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(Path.Combine(killed, "run"))!).Step;
        output.WriteLine($"killed after the checkpoint of step {killedAt} ({File.ReadLines(Path.Combine(killed, "m.jsonl")).Count()} metrics lines on disk)");
        Assert.True(killedAt < Steps, $"the run finished ({killedAt} steps) before it could be killed");

        var resumed = Host.Start(Train(killed, precision, family));
        var resumedOutput = Host.Finish(resumed);
        Assert.Contains($"resumed from step {killedAt}", resumedOutput);
        Host.Finish(reference);

        // Deterministic training and a checkpoint of everything it depends on: every logged loss is the same, bit for bit.
        var expected = Losses(Path.Combine(uninterrupted, "m.jsonl"));
        Assert.Equal(Enumerable.Range(1, Steps), expected.Where(l => l.Kind == "loss").Select(l => (int)l.Step));
        Assert.Equal(expected, Losses(Path.Combine(killed, "m.jsonl")));
    }

    private static string[] Run(string folder) =>
    [
        "run", "--family", "Mini", "--out", folder, "--scale", "8", "--evals", "4", "--eval-batches", "2", "--checkpoint-every", "5",
        "--optimizer-growth", "keep", "--lr-schedule", "rewarm",   // the transitions that carry the most state across a growth
        "--data", TestData.Corpus, "--cache", TestData.Cache, "--threads", "1",
    ];

    [Fact]
    public void RunKilledMidRootRightAfterAGrowthAndMidBaselineEndsWithTheLossesOfAnUninterruptedRun()
    {
        _ = MiniCheckpoints.Small;   // the token cache exists before the processes start
        var uninterrupted = Path.Combine(TestData.NewDirectory("run-uninterrupted"), "run");
        var killed = Path.Combine(TestData.NewDirectory("run-killed"), "run");
        var reference = Host.Start(Run(uninterrupted));

        // Mid-root: once the root's first checkpoint is on disk. Right after a growth: as soon as the growth line is printed,
        // before or just after the grown stage's first checkpoint. Mid-baseline: once its first checkpoint is on disk.
        string Path_(params string[] parts) => Path.Combine([killed, .. parts]);
        KillWhen(Run(killed), () => File.Exists(Path_("progressive", "Small", TrainingCheckpoints.LatestFile)), line: null);
        Assert.False(File.Exists(Path_("progressive", "Small.safetensors")), "the root finished before the kill");
        KillWhen(Run(killed), () => false, line: "growth Small → Large");
        Assert.True(File.Exists(Path_("progressive", "Small.safetensors")));
        Assert.False(File.Exists(Path_("progressive", "Large.safetensors")), "the grown stage finished before the kill");
        KillWhen(Run(killed), () => File.Exists(Path_("scratch", "Large", TrainingCheckpoints.LatestFile)), line: null);
        Assert.True(File.Exists(Path_("progressive", "Large.safetensors")));
        Assert.False(File.Exists(Path_("scratch", "Large.safetensors")), "the baseline finished before the kill");

        var resumed = Host.Finish(Host.Start(Run(killed)));
        Assert.Contains("scratch Large: resumed at step", resumed);
        Host.Finish(reference);

        // Every logged loss (training and validation, every stage) and every number of the results, bit for bit.
        foreach (var metrics in new[] { "progressive/Small", "progressive/Large", "scratch/Large" })
        {
            var expected = Losses(Path.Combine(uninterrupted, metrics + ".metrics.jsonl"));
            Assert.Contains(expected, l => l.Kind == "val_loss");
            Assert.Equal(expected, Losses(Path.Combine(killed, metrics + ".metrics.jsonl")));
        }
        var (expectedResults, actualResults) = (Results(uninterrupted), Results(killed));
        foreach (var key in new[] { "progressive", "scratch", "growths", "comparison" })
            Assert.Equal(expectedResults[key], actualResults[key]);
    }

    [Fact]
    public void ResumingWithAnotherThreadCountSaysTheLastDigitsWillDiffer()
    {
        _ = MiniCheckpoints.Small;
        var folder = Path.Combine(TestData.NewDirectory("run-threads"), "run");
        string[] Args(string threads) => ["run", "--family", "Mini", "--out", folder, "--scale", "0.2", "--evals", "1", "--eval-batches", "1",
                                          "--data", TestData.Corpus, "--cache", TestData.Cache, "--threads", threads];
        Assert.DoesNotContain("intra-op threads and resumes with", Host.Finish(Host.Start(Args("1"))));
        var again = System.Text.RegularExpressions.Regex.Replace(Host.Finish(Host.Start(Args("2"))), @"\s+", " ");   // the console wraps long lines
        Assert.Contains("was started with 1 intra-op threads and resumes with 2", again);
        Assert.Contains("give --threads 1 to match it exactly", again);
    }

    [Fact]
    public void TrainingOnTwoThreadsLogsTheSameLossesEveryTime()
    {
        // The default uses every core; the default run must still repeat exactly. Batches big enough that libtorch
        // splits the work between the threads (a 64 × 32 × 256 logits tensor is 16 times its grain size).
        _ = MiniCheckpoints.Small;
        string[] Args(string folder) =>
        [
            "train", "--family", "Mini", "--stage", "Large", "--steps", "30", "--batch", "64", "--eval-every", "15",
            "--metrics", Path.Combine(folder, "m.jsonl"), "--out", Path.Combine(folder, "run"),
            "--data", TestData.Corpus, "--cache", TestData.Cache, "--threads", "2",
        ];
        var (first, second) = (TestData.NewDirectory("threads-first"), TestData.NewDirectory("threads-second"));
        Host.Finish(Host.Start(Args(first)));
        Host.Finish(Host.Start(Args(second)));
        var expected = Losses(Path.Combine(first, "m.jsonl"));
        Assert.Equal(32, expected.Count);   // 30 training losses and 2 validation losses
        Assert.Equal(expected, Losses(Path.Combine(second, "m.jsonl")));
    }

    // Starts the CLI and SIGKILLs it when `ready` holds or it prints a line containing `line`; it must not have finished.
    private void KillWhen(string[] args, Func<bool> ready, string? line)
    {
        using var printed = new ManualResetEventSlim();
        var victim = Host.Start(args, text => { if (line is not null && text.Contains(line, StringComparison.Ordinal)) printed.Set(); });
        var clock = Stopwatch.StartNew();
        while (!printed.IsSet && !ready() && !victim.HasExited && clock.Elapsed < TimeSpan.FromMinutes(10)) printed.Wait(2);
        Assert.False(victim.HasExited, "the run ended before it could be killed: " + Host.Describe(victim));
        victim.Kill(entireProcessTree: true);   // SIGKILL: no chance to flush or clean up
        victim.WaitForExit();
        var folder = args[Array.IndexOf(args, "--out") + 1];
        var state = Directory.GetFiles(folder, TrainingCheckpoints.LatestFile, SearchOption.AllDirectories)
            .Select(l => $"{Path.GetRelativePath(folder, Path.GetDirectoryName(l)!)} at step {Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(Path.GetDirectoryName(l)!)!).Step}");
        output.WriteLine($"killed ({(printed.IsSet ? line : "checkpoint seen")}); checkpoints: {string.Join(", ", state.DefaultIfEmpty("none"))}");
    }

    // The logged losses in order: (step, "loss" or "val_loss", value).
    private static List<(long Step, string Kind, double Value)> Losses(string metrics)
    {
        var losses = new List<(long, string, double)>();
        foreach (var line in File.ReadLines(metrics))
        {
            var json = JsonDocument.Parse(line).RootElement;
            var step = json.GetProperty("step").GetInt64();
            foreach (var kind in new[] { "loss", "val_loss" })
                if (json.TryGetProperty(kind, out var value)) losses.Add((step, kind, value.GetDouble()));
        }
        return losses;
    }

    // results.json's sections as text, with wall times (which differ from run to run) left out.
    private static Dictionary<string, string> Results(string folder)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))!;
        foreach (var mode in new[] { "progressive", "scratch" })
            foreach (var stage in node[mode]!["stages"]!.AsArray()) stage!.AsObject().Remove("wall_seconds");
        return new[] { "progressive", "scratch", "growths", "comparison" }.ToDictionary(k => k, k => node[k]!.ToJsonString());
    }
}

/// <summary>Starts this test assembly as a CLI process.</summary>
internal static class Host
{
    public static Process Start(string[] args, Action<string>? onLine = null)
    {
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(typeof(Host).Assembly.Location);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = new Process { StartInfo = info };
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output) output.AppendLine(e.Data);
            if (e.Data is not null) onLine?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        Outputs.Add(process, output);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Waits for the process, asserts exit code 0 and returns what it printed.</summary>
    public static string Finish(Process process)
    {
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(20)), "the CLI process did not finish in 20 minutes");
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, Describe(process));
        return Text(process);
    }

    public static string Describe(Process process) => $"exit {(process.HasExited ? process.ExitCode : "-")}: {Text(process)}";

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, System.Text.StringBuilder> Outputs = new();

    private static string Text(Process process)
    {
        var output = Outputs.GetValue(process, _ => new());
        lock (output) return output.ToString();
    }

    // The dotnet that runs these tests (testhost runs under `dotnet exec`), else the one the SDK names, else PATH's.
    internal static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
