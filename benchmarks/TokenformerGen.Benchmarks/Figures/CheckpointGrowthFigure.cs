using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 6: <see cref="StageGrowth.GrowCheckpoint"/> of a real checkpoint (PaperProgressive P124M →
/// P354M, 124M → 354M parameters, random policy so every new value and key row is drawn) against a plain
/// streamed file copy of the bytes it produces, both flushed to disk. The growth runs in a child process
/// so its peak resident memory (VmHWM) is its own; the parent then grows the same checkpoint in memory
/// with the same seed and compares the two results bit for bit.
/// </summary>
internal sealed class CheckpointGrowthFigure : IFigure
{
    public int Number => 6;

    public string Name => "growth";

    public void Run(BenchContext context)
    {
        var (family, from, to) = context.Smoke ? ("BenchTiny", "Base", "Grown") : ("PaperProgressive", "P124M", "P354M");
        var reps = context.Smoke ? 1 : 3;
        var registration = ModelRegistry.Family(family);
        var source = Path.Combine(context.WorkDirectory, $"{family}.{from}.safetensors");
        context.Log($"growth: writing a {family}/{from} checkpoint");
        var saveSeconds = Timing.Seconds(() =>
        {
            using var model = registration.Stage(from).Create();
            model.InitializeFromScratch(1);
            Checkpoint.Save(source, model, new CheckpointMetadata(family, from, model.Stage.SpecHash, 1000));
        });
        context.Log($"growth: checkpoint written in {saveSeconds:F1} s; growing it in a child process");
        var r = ChildProcess.Run(context.Out, "growth", family, to, source, context.WorkDirectory, reps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        double D(string key) => r[key].GetDouble();
        double[] A(string key) => r[key].EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var grow = A("grow");
        var copy = A("copy");
        var copySource = A("copySource");
        var paired = new Paired(copy, grow);
        var (lo, hi) = paired.RatioRange;
        var sourceBytes = D("sourceBytes");
        var targetBytes = D("targetBytes");
        var largestTensor = D("largestTensorBytes");
        var budget = targetBytes + largestTensor;
        var phasePeak = D("peakDuringGrowth");
        var before = D("residentBefore");

        var grown = Path.Combine(context.WorkDirectory, $"{family}.{to}.safetensors");
        context.Log("growth: growing the same checkpoint in memory to compare");
        var (identical, tensors, compared) = CompareWithInMemoryGrowth(registration, from, to, source, grown);

        var table = new FigureTable($"Figure 6 — checkpoint growth {family} {from} → {to}",
                                    "operation", "bytes read → written", "median", "MB/s written", "ratio to copy (median of pairs)", "ratio min–max");
        table.Add($"streamed copy of the {to} file (baseline)", $"{FigureTable.Mb(targetBytes)} → {FigureTable.Mb(targetBytes)}", $"{Stats.Median(copy):F2} s", targetBytes / (1 << 20) / Stats.Median(copy), FigureTable.Ratio(1), "");
        table.Add($"GrowCheckpoint {from} → {to} (random)", $"{FigureTable.Mb(sourceBytes)} → {FigureTable.Mb(targetBytes)}", $"{Stats.Median(grow):F2} s", targetBytes / (1 << 20) / Stats.Median(grow),
                  FigureTable.Ratio(paired.Ratio), $"{FigureTable.Ratio(lo)}–{FigureTable.Ratio(hi)}");
        table.Add($"streamed copy of the {from} file (for scale)", $"{FigureTable.Mb(sourceBytes)} → {FigureTable.Mb(sourceBytes)}", $"{Stats.Median(copySource):F2} s", sourceBytes / (1 << 20) / Stats.Median(copySource),
                  FigureTable.Ratio(Stats.Median(copySource) / Stats.Median(copy)), "");
        table.Notes.Add($"Peak resident memory of the child during the first growth (VmHWM{(r["peakWasReset"].GetBoolean() ? ", reset just before" : "")}): {FigureTable.Mb(phasePeak)}; "
                        + $"resident before it: {FigureTable.Mb(before)}, so the growth itself added at most {FigureTable.Mb(phasePeak - before)}.");
        table.Notes.Add($"Budget: larger checkpoint + one tensor = {FigureTable.Mb(targetBytes)} + {FigureTable.Mb(largestTensor)} = {FigureTable.Mb(budget)}.");
        table.Notes.Add($"{reps} rounds of (copy, grow) alternating; the source checkpoint was written by this run in {saveSeconds:F1} s (from-scratch init + save). Both writers fsync before the rename/close.");
        table.Notes.Add($"Streamed vs in-memory growth with the same seed: {(identical ? "bit-identical" : "DIFFERENT")} ({tensors} tensors, {FigureTable.Mb(compared)} compared).");
        table.Print(context.Out);
        var met = paired.Ratio <= 2 && phasePeak <= budget && identical;
        context.Verdicts.Add(new Verdict(Number, $"checkpoint growth {from} → {to}", $"{FigureTable.Ratio(paired.Ratio)} of copy, peak {FigureTable.Mb(phasePeak)}, {(identical ? "bit-identical" : "different")}",
                                         $"≤ 2×, peak ≤ {FigureTable.Mb(budget)}, bit-identical", context.Smoke ? null : met));
        File.Delete(source);
        File.Delete(grown);
    }

    // The same growth in memory, compared tensor by tensor with the file the child wrote.
    private static (bool Identical, int Tensors, long Bytes) CompareWithInMemoryGrowth(FamilyRegistration family, string from, string to, string source, string grown)
    {
        using var trained = family.Stage(from).Create();
        Checkpoint.Load(source, trained, family.Name, from);
        using var target = family.Stage(to).Create();
        StageGrowth.GrowInto(family.EdgeInto(to)!, trained, target, Options);
        using var reader = SafeTensorsReader.Open(grown);
        var (identical, tensors, bytes) = (true, 0, 0L);
        foreach (var (name, tensor) in target.state_dict())
        {
            using var streamed = reader.ReadTensor(name);
            identical &= tensor.eq(streamed).all().item<bool>();
            tensors++;
            bytes += streamed.NumberOfElements * streamed.ElementSize;
        }
        return (identical, tensors, bytes);
    }

    // Random rows everywhere: the costliest policy for the stream, since every new row is drawn.
    private static readonly GrowthOptions Options = new() { Policy = GrowthPolicy.Random, Seed = 7 };

    /// <summary>The child: growths and copies, alternating, with the peak memory of the first growth.</summary>
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
        var grow = new List<double>();
        var copy = new List<double>();
        var copySource = new List<double>();
        double peak = 0;
        for (var i = 0; i < reps; i++)
        {
            grow.Add(Timing.Seconds(() => StageGrowth.GrowCheckpoint(map, source, target, Options)));
            if (i == 0) peak = ProcessMemory.Peak();
            copy.Add(Timing.Seconds(() => StreamCopy(target, copyTarget)));
            copySource.Add(Timing.Seconds(() => StreamCopy(source, copyTarget)));
        }
        long largest;
        using (var reader = SafeTensorsReader.Open(target))
            largest = reader.Tensors.Max(t => t.Shape.Aggregate(1L, (a, b) => a * b) * 4);
        var result = new Dictionary<string, object>
        {
            ["grow"] = grow, ["copy"] = copy, ["copySource"] = copySource,
            ["sourceBytes"] = new FileInfo(source).Length, ["targetBytes"] = new FileInfo(target).Length,
            ["largestTensorBytes"] = largest, ["residentBefore"] = residentBefore, ["peakDuringGrowth"] = peak, ["peakWasReset"] = reset,
        };
        File.Delete(copyTarget);   // the grown file stays for the parent's comparison
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
