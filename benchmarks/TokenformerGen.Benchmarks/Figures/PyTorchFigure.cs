using System.Diagnostics;
using System.Globalization;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Devices;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 12 (issue 17): this runtime's training step at the released 150M shape against the same step in eager PyTorch
/// (<c>benchmarks/pytorch/tokenformer_step.py</c>, Debian's python3-torch), in one run: blocks of steps of each
/// alternated A B B A, PyTorch once as installed and once with glibc's allocator set as this runtime sets it
/// (<see cref="HostMemory"/>), so the comparison also shows what that setting alone is worth to PyTorch.
/// </summary>
internal sealed class PyTorchFigure : IFigure
{
    private const string Python = "/usr/bin/python3";   // Debian's python3-torch lives in the system interpreter

    // The environment that gives a PyTorch process what HostMemory gives ours: no trimming, no mmap for large blocks.
    private const string ReuseTunables = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615";

    public int Number => 12;

    public string Name => "pytorch";

    public void Run(BenchContext context)
    {
        var script = Path.Combine(Repo.Root, "benchmarks", "pytorch", "tokenformer_step.py");
        if (!TorchAvailable(out var why))
        {
            context.Out.WriteLine($"Figure 12 skipped: {why} (apt-get install python3-torch libopenblas0-pthread).");
            context.Verdicts.Add(new Verdict(Number, "fp32 step vs eager PyTorch", "skipped: " + why, "≥ 1.3× at 1 × 128", null));
            return;
        }
        var size = context.Smoke ? BenchModels.Tiny : context.Shape ?? BenchModels.Released150M;
        // With --shape, only the step the target is about (1 × 128): the 4 × 512 rounds take half an hour.
        var settings = context.Smoke ? new[] { (1, 16) } : context.Shape is null ? [(1, 128), (4, 512)] : [(1, 128)];
        var (steps, rounds) = context.Smoke ? (1, 1) : (4, 2);
        var threads = get_num_threads();
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        var table = new FigureTable($"Figure 12 — training step at {size.Label}, this runtime against eager PyTorch, {threads} thread(s)",
                                    "tokens a step", "engine", "median step", "tokens/s", "min–max step", "PyTorch step ÷ ours fp32 (per round)");
        var verdicts = new List<(string, double)>();
        foreach (var (batch, seq) in settings)
        {
            using var model = BenchModels.Initialized(size);
            using var trainer = new Trainer(model, data, new TrainerOptions { Steps = 10_000, Batch = batch, Context = seq });
            var ours = new Dictionary<Precision, List<double>> { [Precision.Fp32] = [], [Precision.Bf16] = [] };
            var python = new Dictionary<string, List<double>> { ["as installed"] = [], ["allocator as ours"] = [] };
            var roundRatios = python.Keys.ToDictionary(k => k, _ => new List<double>());
            void Ours(bool record)
            {
                foreach (var precision in ours.Keys)
                {
                    model.Place(new ComputeTarget(CPU, precision));
                    for (var i = 0; i < steps; i++)
                    {
                        var seconds = Timing.Seconds(() => trainer.Step());
                        if (record) ours[precision].Add(seconds);
                    }
                }
            }
            List<double> PyTorch(string variant)
            {
                context.Log($"pytorch: {variant}, {batch} × {seq}, {steps} steps after 2 warm-up steps");
                var times = RunScript(context, script, variant == "as installed" ? null : ReuseTunables,
                                      "--shape", size == BenchModels.Tiny ? "tiny" : size == BenchModels.P354M ? "P354M" : "150M", "--batch", $"{batch}", "--context", $"{seq}", "--steps", $"{steps + 2}", "--threads", $"{threads}");
                return times.Skip(2).ToList();
            }
            context.Log($"pytorch: ours, {batch} × {seq}, warm-up");
            Ours(record: false);
            Ours(record: false);
            for (var round = 0; round < rounds; round++)
            {
                // A B B A: ours, PyTorch ×2, ours — then the other order.
                var before = ours[Precision.Fp32].Count;
                if (round % 2 == 0) Ours(record: true);
                var results = python.Keys.ToDictionary(k => k, PyTorch);
                if (round % 2 == 1) Ours(record: true);
                var ourMedian = Stats.Median(ours[Precision.Fp32].Skip(before));
                foreach (var (variant, times) in results)
                {
                    python[variant].AddRange(times);
                    roundRatios[variant].Add(Stats.Median(times) / ourMedian);
                }
            }
            void Row(string engine, List<double> seconds, List<double>? ratios)
            {
                var median = Stats.Median(seconds);
                table.Add($"{batch} × {seq}", engine, $"{median:F3} s", batch * seq / median, $"{Stats.Min(seconds):F3}–{Stats.Max(seconds):F3} s",
                          ratios is null ? "" : string.Join(", ", ratios.Select(FigureTable.Ratio)));
            }
            Row("TokenformerGen fp32", ours[Precision.Fp32], null);
            Row("TokenformerGen bf16", ours[Precision.Bf16], null);
            foreach (var (variant, seconds) in python) Row($"PyTorch fp32, {variant}", seconds, roundRatios[variant]);
            foreach (var (variant, ratios) in roundRatios) verdicts.Add(($"{batch} × {seq} vs PyTorch {variant}", Stats.Min(ratios)));
        }
        table.Notes.Add($"Blocks of {steps} steps, alternated A B B A over {rounds} rounds after two warm-up blocks of ours and two warm-up steps in every PyTorch process; the ratio is per round: PyTorch's median step ÷ ours (fp32) in that round.");
        table.Notes.Add($"PyTorch: {Python} {Path.GetRelativePath(Repo.Root, script)} — Debian's python3-torch 1.13 with libopenblas0-pthread, AdamW(0.9, 0.95, weight decay 0.1 on matrices), clip 1.0, random token ids; 'allocator as ours' runs it with GLIBC_TUNABLES={ReuseTunables}.");
        table.Notes.Add("Ours: Trainer.Step on the KJV corpus (AdamW, clip 1.0), the same model; bf16 for the record (PyTorch's script has no bf16 mode).");
        table.Print(context.Out);
        foreach (var (name, ratio) in verdicts)
            context.Verdicts.Add(new Verdict(Number, $"PyTorch fp32 step ÷ ours, {name} (worst round)", FigureTable.Ratio(ratio),
                                             name.StartsWith("1 × 128 vs PyTorch as installed", StringComparison.Ordinal) ? "≥ 1.3×" : "(finding)",
                                             context.Smoke || !name.StartsWith("1 × 128 vs PyTorch as installed", StringComparison.Ordinal) ? null : ratio >= 1.3));
    }

    private static bool TorchAvailable(out string why)
    {
        why = "";
        if (!File.Exists(Python))
        {
            why = $"{Python} not found";
            return false;
        }
        var check = Process.Start(new ProcessStartInfo(Python, ["-c", "import torch"]) { RedirectStandardError = true, UseShellExecute = false })!;
        check.WaitForExit();
        if (check.ExitCode == 0) return true;
        why = "python3-torch is not installed";
        return false;
    }

    // Runs the reference script and returns its step times ("step <i> <seconds> <loss>" lines).
    private static List<double> RunScript(BenchContext context, string script, string? tunables, params string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (tunables is not null) start.Environment["GLIBC_TUNABLES"] = tunables;
        using var process = Process.Start(start)!;
        var times = new List<double>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            var parts = line.Split(' ');
            if (parts.Length == 4 && parts[0] == "step") times.Add(double.Parse(parts[2], CultureInfo.InvariantCulture));
            else context.Out.WriteLine("  [pytorch] " + line);
        }
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{script} exited with {process.ExitCode}.");
        return times;
    }
}
