extern alias generator;
using System.Collections.Immutable;
using System.Text;
using generator::TokenformerGen.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using TokenformerGen.Benchmarks.Harness;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 5: wall time of the real generator, driven by <see cref="CSharpGeneratorDriver"/> as the
/// compiler drives it, over every example spec: cold (a fresh driver) against the run after an edit
/// of an unrelated C# file (same driver, one more syntax tree), where every output must come from
/// the cache.
/// </summary>
internal sealed class GeneratorFigure : IFigure
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    public int Number => 5;

    public string Name => "generator";

    public void Run(BenchContext context)
    {
        var specs = Directory.GetFiles(Repo.ExampleFamilies, "*.tfmodel.yaml").Order(StringComparer.Ordinal)
            .Select(p => (AdditionalText)new SpecText(p, File.ReadAllText(p))).ToImmutableArray();
        var compilation = BaseCompilation();
        var reps = context.Smoke ? 2 : 15;

        var first = Timing.Seconds(() => CreateDriver(specs, track: false).RunGenerators(compilation));   // JIT of generator and YamlDotNet
        var cold = new List<double>();
        var warm = new List<double>();
        var edits = 0;
        for (var i = 0; i < reps; i++)
        {
            GeneratorDriver driver = CreateDriver(specs, track: false);
            cold.Add(Timing.Seconds(() => driver = driver.RunGenerators(compilation)));
            var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText($"namespace Consumer {{ internal static class Edited{edits++} {{ }} }}", ParseOptions));
            warm.Add(Timing.Seconds(() => driver = driver.RunGenerators(edited)));
        }

        // The same sequence with step tracking on, to prove the second run reused every output.
        var tracked = CreateDriver(specs, track: true).RunGenerators(compilation);
        var outputs = tracked.GetRunResult().Results.Single().GeneratedSources.Length;
        var second = tracked.RunGenerators(compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Consumer { internal static class Unrelated { } }", ParseOptions)));
        var run = second.GetRunResult().Results.Single();
        var steps = run.TrackedSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        var notCached = steps.Count(o => o.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        var sinkOutputs = run.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        var sinkNotCached = sinkOutputs.Count(o => o.Reason != IncrementalStepRunReason.Cached);

        var coldMedian = Stats.Median(cold);
        var warmMedian = Stats.Median(warm);
        var ratio = Stats.Median(cold.Zip(warm, (c, w) => w / c));
        var table = new FigureTable($"Figure 5 — generator over the {specs.Length} example specs ({outputs} generated files)",
                                    "run", "median", "min–max", "ratio to cold (median of pairs)");
        table.Add("first run in the process (includes JIT)", $"{1e3 * first:F1} ms", "", FigureTable.Ratio(first / coldMedian));
        table.Add("cold (fresh driver)", $"{1e3 * coldMedian:F2} ms", $"{1e3 * Stats.Min(cold):F2}–{1e3 * Stats.Max(cold):F2} ms", FigureTable.Ratio(1));
        table.Add("after an unrelated C# edit", $"{1e3 * warmMedian:F3} ms", $"{1e3 * Stats.Min(warm):F3}–{1e3 * Stats.Max(warm):F3} ms", FigureTable.Ratio(ratio));
        table.Notes.Add($"Incremental run with step tracking: {steps.Count} tracked step outputs, {notCached} not cached/unchanged; {sinkOutputs.Count} source outputs, {sinkNotCached} not cached.");
        table.Notes.Add($"{reps} cold/edit pairs after one JIT warm-up run; RunGenerators wall time (parsing the generated sources included), step tracking off while timing.");
        table.Print(context.Out);
        var met = ratio <= 0.05 && notCached == 0 && sinkNotCached == 0;
        context.Verdicts.Add(new Verdict(Number, "generator after unrelated edit / cold", $"{FigureTable.Percent(ratio)} of cold, {notCached + sinkNotCached} outputs recomputed", "≤ 5%, all cached", context.Smoke ? null : met));
    }

    private static GeneratorDriver CreateDriver(ImmutableArray<AdditionalText> specs, bool track)
        => CSharpGeneratorDriver.Create(
            [new TokenformerGenerator().AsSourceGenerator()],
            additionalTexts: specs,
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: track));

    /// <summary>A consumer project: the runtime (with its text assembly), TorchSharp and the framework referenced, references bound once.</summary>
    private static CSharpCompilation BaseCompilation()
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p) is var f && (f.StartsWith("System.", StringComparison.Ordinal) || f is "netstandard.dll" or "mscorlib.dll"))
            .Concat([typeof(TorchSharp.torch).Assembly.Location, typeof(TokenformerGen.Modules.TokenformerModel).Assembly.Location, typeof(TokenformerGen.Text.Families.TokenizerKind).Assembly.Location])
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Consumer",
            [CSharpSyntaxTree.ParseText("namespace Consumer { internal static class Anchor { } }", ParseOptions)],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        _ = compilation.GetDiagnostics();
        return compilation;
    }

    private sealed class SpecText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text, Encoding.UTF8);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
