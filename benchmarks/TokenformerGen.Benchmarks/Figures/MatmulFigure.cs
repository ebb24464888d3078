using TokenformerGen.Benchmarks.Harness;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 1: float32 matrix-multiply throughput of TorchSharp on this machine, for 1024³ and for the
/// shapes the benchmark models multiply (batch 8 × context 256 = 2048 rows). Shapes are sampled round
/// robin so load from other processes spreads over all of them.
/// </summary>
internal sealed class MatmulFigure : IFigure
{
    public int Number => 1;

    public string Name => "matmul";

    public void Run(BenchContext context)
    {
        var shapes = context.Smoke
            ? new[] { ("square 128³", 128L, 128L, 128L), ("model-like", 64L, 96L, 128L) }
            : new[]
            {
                ("square 1024³", 1024L, 1024L, 1024L),
                ("square 2048³", 2048L, 2048L, 2048L),
                ("50M FFN keys: X·Kᵀ", 2048L, 768L, 3072L),
                ("50M FFN values: Θ·V", 2048L, 3072L, 768L),
                ("50M FFN key grad: dAᵀ·X", 3072L, 2048L, 768L),
                ("50M q/k/v/proj: X·Kᵀ", 2048L, 768L, 768L),
                ("10M FFN keys: X·Kᵀ", 2048L, 384L, 1536L),
                ("10M q/k/v/proj: X·Kᵀ", 2048L, 384L, 384L),
            };
        var samples = context.Smoke ? 2 : 9;
        var probes = shapes.Select(s => new MatmulProbe(s.Item1, s.Item2, s.Item3, s.Item4)).ToList();
        try
        {
            foreach (var probe in probes) probe.Calibrate(context.Smoke ? 0.01 : 0.25);
            var results = probes.ToDictionary(p => p, _ => new List<double>());
            for (var i = 0; i < samples; i++)
                foreach (var probe in probes) results[probe].Add(probe.Sample());

            var reference = Stats.Median(results[probes[0]]);
            var limit = probes.Max(p => Stats.Median(results[p]));
            context.MatmulLimit = limit;
            var table = new FigureTable("Figure 1 — float32 matmul throughput (machine limit)",
                                        "shape", "product", "GFLOP/call", "median GFLOP/s", "min–max GFLOP/s", $"vs {probes[0].Label}");
            foreach (var probe in probes)
            {
                var values = results[probe];
                table.Add(probe.Label, probe.Shape, probe.FlopsPerCall / 1e9, Stats.Median(values),
                          $"{FigureTable.Format(Stats.Min(values))}–{FigureTable.Format(Stats.Max(values))}",
                          FigureTable.Ratio(Stats.Median(values) / reference));
            }
            table.Notes.Add($"{samples} samples per shape of ≈0.25 s each, shapes interleaved round robin; median reported.");
            table.Notes.Add($"Machine limit used for MFU = the best median above: {FigureTable.Format(limit)} GFLOP/s.");
            table.Print(context.Out);
            context.Verdicts.Add(new Verdict(Number, "matmul limit", $"{FigureTable.Format(reference)} GFLOP/s at {probes[0].Label}, best {FigureTable.Format(limit)}", "(reference)", null));
        }
        finally
        {
            foreach (var probe in probes) probe.Dispose();
        }
    }
}
