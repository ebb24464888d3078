namespace TokenformerGen.Benchmarks.Harness;

/// <summary>Met, missed, or informational: the outcome of one figure against its target.</summary>
internal sealed record Verdict(int Figure, string Name, string Headline, string Target, bool? Met);

/// <summary>What every figure gets: the mode, the output, a scratch folder, and where verdicts go.</summary>
internal sealed class BenchContext(bool smoke, TextWriter output, string workDirectory, BenchModels.Size? shape = null)
{
    public bool Smoke { get; } = smoke;

    /// <summary>A released shape chosen with <c>--shape</c>: figures that measure released shapes measure only it, briefly.</summary>
    public BenchModels.Size? Shape { get; } = shape;

    public TextWriter Out { get; } = output;

    /// <summary>A scratch folder of this run (deleted at the end).</summary>
    public string WorkDirectory { get; } = workDirectory;

    public List<Verdict> Verdicts { get; } = [];

    /// <summary>Measured matmul limit (GFLOP/s) when figure 1 ran first; figures that need it also probe their own.</summary>
    public double? MatmulLimit { get; set; }

    public void Log(string message)
    {
        Out.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
        Out.Flush();
    }
}

/// <summary>One figure of the benchmark.</summary>
internal interface IFigure
{
    /// <summary>Its number in issue 5 (1–8).</summary>
    int Number { get; }

    /// <summary>The name used on the command line.</summary>
    string Name { get; }

    void Run(BenchContext context);
}
