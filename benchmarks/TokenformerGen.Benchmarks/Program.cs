using System.Globalization;
using TokenformerGen.Benchmarks.Figures;
using TokenformerGen.Benchmarks.Harness;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/TokenformerGen.Benchmarks -- [figures] [--smoke] [--threads N] [--shape 150M|P354M]</c>.
/// Figures by name or number: matmul (1), training (2), pattention (3), handwritten (4), generator (5),
/// growth (6), generation (7), memory (8), precision (9), onnx (10), onnx-quant (10c), onnx-context (10c, the context part alone), serve (10d), parts (11), pytorch (12), transformer-step (13); none = all. <c>--shape</c> makes the
/// figures that measure released shapes measure only that one and print a one-line ratio.
/// </summary>
internal static class Program
{
    private static readonly IFigure[] Figures =
    [
        new MatmulFigure(), new TrainingFigure(), new PattentionFigure(), new HandWrittenFigure(),
        new GeneratorFigure(), new CheckpointGrowthFigure(), new GenerationFigure(), new MemoryFigure(), new PrecisionFigure(), new OnnxFigure(), new QuantizedOnnxFigure(), new OnnxContextFigure(), new ServeFigure(), new StepPartsFigure(), new PyTorchFigure(),
        new TransformerStepFigure(),
    ];

    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child") return Child(args[1..]);
        var smoke = false;
        int? threads = null;
        BenchModels.Size? shape = null;
        var selected = new List<IFigure>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--smoke":
                    smoke = true;
                    break;
                case "--threads":
                    threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--shape":
                    shape = BenchModels.ByName(args[++i]);
                    break;
                case "--help" or "-h":
                    Console.WriteLine("usage: [figure names or numbers] [--smoke] [--threads N] [--shape 150M|P354M]");
                    Console.WriteLine("figures: " + string.Join(", ", Figures.Select(f => $"{f.Number} {f.Name}")));
                    return 0;
                default:
                    var figure = Figures.FirstOrDefault(f => f.Name.Equals(args[i], StringComparison.OrdinalIgnoreCase) || f.Number.ToString(CultureInfo.InvariantCulture) == args[i]);
                    if (figure is null)
                    {
                        Console.Error.WriteLine($"Unknown figure '{args[i]}'. Figures: {string.Join(", ", Figures.Select(f => f.Name))}.");
                        return 2;
                    }
                    selected.Add(figure);
                    break;
            }
        }
        if (selected.Count == 0) selected.AddRange(Figures);
        if (threads is int n) set_num_threads(n);
        var work = Path.Combine(Path.GetTempPath(), $"tokenformergen-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        var context = new BenchContext(smoke, Console.Out, work, shape);
        try
        {
            Console.WriteLine($"# TokenformerGen benchmarks{(smoke ? " (smoke: every figure for a moment; numbers mean nothing)" : "")}");
            Machine.Print(Console.Out);
            foreach (var figure in selected.Distinct().OrderBy(f => f.Number))
            {
                context.Log($"figure {figure.Number}: {figure.Name}");
                figure.Run(context);
            }
            var summary = new FigureTable("Summary", "figure", "measured", "target", "met");
            foreach (var v in context.Verdicts)
                summary.Add($"{v.Figure}. {v.Name}", v.Headline, v.Target, v.Met switch { true => "yes", false => "**no**", null => "–" });
            summary.Notes.Add($"Load average at the end (1/5/15 min): {Machine.LoadAverage()}.");
            summary.Print(Console.Out);
            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int Child(string[] args)
    {
        switch (args[0])
        {
            case "growth":
                CheckpointGrowthFigure.Child(args[1..]);
                return 0;
            case "memory":
                MemoryFigure.Child(args[1..]);
                return 0;
            case "handwritten":
                HandWrittenFigure.Child(args[1..]);
                return 0;
            case "parts":
                StepPartsFigure.Child(args[1..]);
                return 0;
            case "onnx-load":
                QuantizedOnnxFigure.Child(args[1..]);
                return 0;
            default:
                Console.Error.WriteLine($"Unknown child '{args[0]}'.");
                return 2;
        }
    }
}
