using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Training;
using Xunit.Abstractions;

namespace TokenformerGen.Cli.Tests;

/// <summary>
/// kill -9 in the middle of `train`, the same command again, and the losses of every step equal those of an
/// uninterrupted run. The CLI runs as a separate process: this test assembly started with `dotnet exec`
/// (see Program.cs), over the Mini family.
/// </summary>
public sealed class KillAndResumeTests(ITestOutputHelper output)
{
    private const int Steps = 200;

    private static string[] Train(string folder, string precision) =>
    [
        "train", "--family", "Mini", "--stage", "Small", "--steps", Steps.ToString(CultureInfo.InvariantCulture), "--batch", "8",
        "--checkpoint-every", "10", "--eval-every", "100", "--metrics", Path.Combine(folder, "m.jsonl"), "--out", Path.Combine(folder, "run"),
        "--data", TestData.Corpus, "--cache", TestData.Cache, "--threads", "1",   // one thread: several processes share the cores
        "--precision", precision,
    ];

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]   // exact too: checkpoints hold the float32 master weights and moments, and bf16 runs are deterministic
    public void KilledTrainingResumesWithTheLossesOfAnUninterruptedRun(string precision)
    {
        _ = MiniCheckpoints.Small;   // the token cache exists before the processes start
        var uninterrupted = TestData.NewDirectory("uninterrupted-" + precision);
        var killed = TestData.NewDirectory("killed-" + precision);

        var reference = Host.Start(Train(uninterrupted, precision));
        var victim = Host.Start(Train(killed, precision));
        var latest = Path.Combine(killed, "run", TrainingCheckpoints.LatestFile);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(latest) && !victim.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(5);
        Assert.True(File.Exists(latest), "no checkpoint appeared: " + Host.Describe(victim));
        victim.Kill(entireProcessTree: true);   // SIGKILL: no chance to flush or clean up
        victim.WaitForExit();
        var killedAt = Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(Path.Combine(killed, "run"))!).Step;
        output.WriteLine($"killed after the checkpoint of step {killedAt} ({File.ReadLines(Path.Combine(killed, "m.jsonl")).Count()} metrics lines on disk)");
        Assert.True(killedAt < Steps, $"the run finished ({killedAt} steps) before it could be killed");

        var resumed = Host.Start(Train(killed, precision));
        var resumedOutput = Host.Finish(resumed);
        Assert.Contains($"resumed from step {killedAt}", resumedOutput);
        Host.Finish(reference);

        var expected = Losses(Path.Combine(uninterrupted, "m.jsonl"));
        var actual = Losses(Path.Combine(killed, "m.jsonl"));
        Assert.Equal(Enumerable.Range(1, Steps), expected.Keys.Order());
        Assert.Equal(Enumerable.Range(1, Steps), actual.Keys.Order());
        var worst = expected.Max(kv => Math.Abs(kv.Value - actual[kv.Key]));
        output.WriteLine($"largest loss difference over {Steps} steps: {worst:G3}");
        Assert.InRange(worst, 0, 1e-6);
    }

    // Step → training loss; every step must appear exactly once.
    private static Dictionary<int, double> Losses(string metrics)
    {
        var losses = new Dictionary<int, double>();
        foreach (var line in File.ReadLines(metrics))
        {
            var json = JsonDocument.Parse(line).RootElement;
            if (json.TryGetProperty("loss", out var loss)) losses.Add(json.GetProperty("step").GetInt32(), loss.GetDouble());
        }
        return losses;
    }
}

/// <summary>Starts this test assembly as a CLI process.</summary>
internal static class Host
{
    public static Process Start(string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(typeof(Host).Assembly.Location);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = new Process { StartInfo = info };
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
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
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the CLI process did not finish in 2 minutes");
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
    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
