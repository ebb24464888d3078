using System.Globalization;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Training;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 8: resident memory of a <see cref="Trainer"/> run of many steps, in a child process of its
/// own; the first and last hundred steps must look alike (no per-step leak).
/// </summary>
internal sealed class MemoryFigure : IFigure
{
    public int Number => 8;

    public string Name => "memory";

    public void Run(BenchContext context)
    {
        var (size, steps, batch, seq, window) = context.Smoke ? ("tiny", 30, 2, 32, 10) : ("10M", 1000, 2, 256, 100);
        context.Log($"memory: {steps} steps of the {size} model in a child process (batch {batch} × context {seq})");
        var r = ChildProcess.Run(context.Out, "memory", size, steps.ToString(CultureInfo.InvariantCulture), batch.ToString(CultureInfo.InvariantCulture), seq.ToString(CultureInfo.InvariantCulture));
        var rss = r["rss"].EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var managed = r["managed"].EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var first = rss.Take(window).ToArray();
        var last = rss.Skip(rss.Length - window).ToArray();
        var afterWarmup = rss.Skip(window).ToArray();
        var slopePerHundred = Stats.Slope(afterWarmup) * 100;
        var table = new FigureTable($"Figure 8 — resident memory over {steps} training steps ({size}, batch {batch} × context {seq})",
                                    "steps", "RSS median", "RSS min", "RSS max", "managed heap median");
        table.Add($"1–{window}", FigureTable.Mb(Stats.Median(first)), FigureTable.Mb(Stats.Min(first)), FigureTable.Mb(Stats.Max(first)), FigureTable.Mb(Stats.Median(managed.Take(window))));
        table.Add($"{steps - window + 1}–{steps}", FigureTable.Mb(Stats.Median(last)), FigureTable.Mb(Stats.Min(last)), FigureTable.Mb(Stats.Max(last)), FigureTable.Mb(Stats.Median(managed.Skip(managed.Length - window))));
        var growth = Stats.Max(last) - Stats.Max(first);
        table.Notes.Add($"Peak RSS of the whole run (VmHWM): {FigureTable.Mb(r["peak"].GetDouble())}; RSS after the model and optimizer were built: {FigureTable.Mb(r["start"].GetDouble())}.");
        table.Notes.Add($"Trend after step {window} (least squares): {slopePerHundred / (1 << 20):F2} MB per 100 steps; last-window max − first-window max = {growth / (1 << 20):F1} MB.");
        table.Notes.Add($"Median step {r["medianStep"].GetDouble():F3} s. RSS read from /proc/self/status after every step.");
        table.Print(context.Out);
        // Flat: the last window never exceeds the first window's peak by more than 2% (allocator noise).
        var met = Stats.Max(last) <= Stats.Max(first) * 1.02;
        context.Verdicts.Add(new Verdict(Number, "RSS first vs last 100 steps", $"max {FigureTable.Mb(Stats.Max(first))} → {FigureTable.Mb(Stats.Max(last))} ({slopePerHundred / (1 << 20):F2} MB/100 steps)", "flat (last ≤ first + 2%)", context.Smoke ? null : met));
    }

    /// <summary>The child: trains and records RSS after every step.</summary>
    public static void Child(string[] args)
    {
        var size = BenchModels.ByName(args[0]);
        var (steps, batch, seq) = (int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        using var corpus = BenchModels.OpenCorpus();
        using var model = BenchModels.Initialized(size);
        using var trainer = new Trainer(model, BenchModels.Batches(corpus), new TrainerOptions { Steps = steps, Batch = batch, Context = seq });
        var start = ProcessMemory.Resident();
        var rss = new List<long>(steps);
        var managed = new List<long>(steps);
        var seconds = new List<double>(steps);
        for (var i = 0; i < steps; i++)
        {
            seconds.Add(Timing.Seconds(() => trainer.Step()));
            rss.Add(ProcessMemory.Resident());
            managed.Add(GC.GetTotalMemory(false));
            if ((i + 1) % 100 == 0) Console.WriteLine($"step {i + 1}: RSS {rss[^1] >> 20} MB");
        }
        ChildProcess.Report(new Dictionary<string, object>
        {
            ["rss"] = rss, ["managed"] = managed, ["start"] = start, ["peak"] = ProcessMemory.Peak(), ["medianStep"] = Stats.Median(seconds),
        });
    }
}
