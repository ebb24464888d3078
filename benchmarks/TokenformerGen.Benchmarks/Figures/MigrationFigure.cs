using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 6: <see cref="StageGrowth.GrowCheckpoint"/> of a real checkpoint (PaperProgressive P124M →
/// P354M, 124M → 354M parameters) against a plain streamed file copy of the bytes it produces, both
/// flushed to disk. The migration runs in a child process so its peak resident memory (VmHWM) is its own.
/// </summary>
internal sealed class MigrationFigure : IFigure
{
    public int Number => 6;

    public string Name => "migration";

    public void Run(BenchContext context)
    {
        var (family, from, to) = context.Smoke ? ("BenchTiny", "Base", "Grown") : ("PaperProgressive", "P124M", "P354M");
        var reps = context.Smoke ? 1 : 3;
        var registration = ModelRegistry.Family(family);
        var source = Path.Combine(context.WorkDirectory, $"{family}.{from}.safetensors");
        context.Log($"migration: writing a {family}/{from} checkpoint");
        var saveSeconds = Timing.Seconds(() =>
        {
            using var model = registration.Stage(from).Create();
            model.InitializeFromScratch(1);
            Checkpoint.Save(source, model, new CheckpointMetadata(family, from, model.Stage.SpecHash, 1000));
        });
        context.Log($"migration: checkpoint written in {saveSeconds:F1} s; migrating in a child process");
        var r = ChildProcess.Run(context.Out, "migration", family, to, source, context.WorkDirectory, reps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        double D(string key) => r[key].GetDouble();
        double[] A(string key) => r[key].EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var migrate = A("migrate");
        var copy = A("copy");
        var copySource = A("copySource");
        var paired = new Paired(copy, migrate);
        var (lo, hi) = paired.RatioRange;
        var sourceBytes = D("sourceBytes");
        var targetBytes = D("targetBytes");
        var largestTensor = D("largestTensorBytes");
        var budget = targetBytes + largestTensor;
        var phasePeak = D("peakDuringMigration");
        var before = D("residentBefore");

        var table = new FigureTable($"Figure 6 — checkpoint migration {family} {from} → {to}",
                                    "operation", "bytes read → written", "median", "MB/s written", "ratio to copy (median of pairs)", "ratio min–max");
        table.Add($"streamed copy of the {to} file (baseline)", $"{FigureTable.Mb(targetBytes)} → {FigureTable.Mb(targetBytes)}", $"{Stats.Median(copy):F2} s", targetBytes / (1 << 20) / Stats.Median(copy), FigureTable.Ratio(1), "");
        table.Add($"MigrateCheckpoint {from} → {to}", $"{FigureTable.Mb(sourceBytes)} → {FigureTable.Mb(targetBytes)}", $"{Stats.Median(migrate):F2} s", targetBytes / (1 << 20) / Stats.Median(migrate),
                  FigureTable.Ratio(paired.Ratio), $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}");
        table.Add($"streamed copy of the {from} file (for scale)", $"{FigureTable.Mb(sourceBytes)} → {FigureTable.Mb(sourceBytes)}", $"{Stats.Median(copySource):F2} s", sourceBytes / (1 << 20) / Stats.Median(copySource),
                  FigureTable.Ratio(Stats.Median(copySource) / Stats.Median(copy)), "");
        table.Notes.Add($"Peak resident memory of the child during the first migration (VmHWM{(r["peakWasReset"].GetBoolean() ? ", reset just before" : "")}): {FigureTable.Mb(phasePeak)}; "
                        + $"resident before it: {FigureTable.Mb(before)}, so the migration itself added at most {FigureTable.Mb(phasePeak - before)}.");
        table.Notes.Add($"Budget: larger checkpoint + one tensor = {FigureTable.Mb(targetBytes)} + {FigureTable.Mb(largestTensor)} = {FigureTable.Mb(budget)}.");
        table.Notes.Add($"{reps} rounds of (copy, migrate) alternating; the source checkpoint was written by this run in {saveSeconds:F1} s (from-scratch init + save). Both writers fsync before the rename/close.");
        table.Print(context.Out);
        var met = paired.Ratio <= 2 && phasePeak <= budget;
        context.Verdicts.Add(new Verdict(Number, $"migration {from} → {to}", $"{FigureTable.Ratio(paired.Ratio)} of copy, peak {FigureTable.Mb(phasePeak)}", $"≤ 2×, peak ≤ {FigureTable.Mb(budget)}", context.Smoke ? null : met));
        File.Delete(source);
    }

    /// <summary>The child: migrations and copies, alternating, with the peak memory of the first migration.</summary>
    public static void Child(string[] args)
    {
        var (family, to, source, folder, reps) = (args[0], args[1], args[2], args[3], int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
        var map = ModelRegistry.Family(family).EdgeInto(to) ?? throw new ArgumentException($"{family}/{to} has no growth edge.");
        using (var warm = ones(8, 8)) _ = warm.sum().item<float>();   // load libtorch before the baseline reading
        GC.Collect();
        var target = Path.Combine(folder, $"{family}.{to}.safetensors");
        var copyTarget = Path.Combine(folder, "copy.safetensors");
        var residentBefore = ProcessMemory.Resident();
        var reset = ProcessMemory.ResetPeak();
        var migrate = new List<double>();
        var copy = new List<double>();
        var copySource = new List<double>();
        double peak = 0;
        for (var i = 0; i < reps; i++)
        {
            migrate.Add(Timing.Seconds(() => StageGrowth.GrowCheckpoint(map, source, target)));
            if (i == 0) peak = ProcessMemory.Peak();
            copy.Add(Timing.Seconds(() => StreamCopy(target, copyTarget)));
            copySource.Add(Timing.Seconds(() => StreamCopy(source, copyTarget)));
        }
        long largest;
        using (var reader = SafeTensorsReader.Open(target))
            largest = reader.Tensors.Max(t => t.Shape.Aggregate(1L, (a, b) => a * b) * 4);
        var result = new Dictionary<string, object>
        {
            ["migrate"] = migrate, ["copy"] = copy, ["copySource"] = copySource,
            ["sourceBytes"] = new FileInfo(source).Length, ["targetBytes"] = new FileInfo(target).Length,
            ["largestTensorBytes"] = largest, ["residentBefore"] = residentBefore, ["peakDuringMigration"] = peak, ["peakWasReset"] = reset,
        };
        File.Delete(target);
        File.Delete(copyTarget);
        ChildProcess.Report(result);
    }

    /// <summary>A plain file-to-file copy through user space, flushed to disk like an atomic checkpoint write.</summary>
    private static void StreamCopy(string from, string to)
    {
        using (var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var output = new FileStream(to, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            input.CopyTo(output, 16 << 20);
            output.Flush(flushToDisk: true);
        }
    }

}
