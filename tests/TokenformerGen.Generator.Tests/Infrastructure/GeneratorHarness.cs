extern alias GeneratorAssembly;
using System.Collections.Immutable;
using System.Text;
using GeneratorAssembly::TokenformerGen.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace TokenformerGen.Generator.Tests.Infrastructure;

/// <summary>An additional file held in memory (what MSBuild passes for an AdditionalFiles item).</summary>
internal sealed class InMemoryAdditionalText(string path, string? text) : AdditionalText
{
    private readonly SourceText? _text = text is null ? null : SourceText.From(text, Encoding.UTF8);

    public override string Path { get; } = path;

    public override SourceText? GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>An additional file whose read fails: the generator must report, not crash.</summary>
internal sealed class ThrowingAdditionalText(string path) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default)
        => throw new IOException("disk on fire");
}

/// <summary>The outcome of one generator run.</summary>
internal sealed class GeneratorRun(GeneratorDriver driver, Compilation output, GeneratorDriverRunResult result)
{
    public GeneratorDriver Driver { get; } = driver;

    public Compilation Output { get; } = output;

    public GeneratorDriverRunResult Result { get; } = result;

    public GeneratorRunResult Single => Result.Results.Single();

    /// <summary>Diagnostics the generator reported (ours, and CS8785 if it crashed).</summary>
    public ImmutableArray<Diagnostic> Diagnostics => Result.Diagnostics;

    public IReadOnlyDictionary<string, string> Sources
        => Single.GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());

    /// <summary>Compiles (and emits, with XML docs) the output; returns every warning and error.</summary>
    public IReadOnlyList<Diagnostic> CompileDiagnostics() => GeneratorHarness.CompileDiagnostics(Output);
}

/// <summary>Runs the real generator through <see cref="CSharpGeneratorDriver"/>, as the compiler does.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions =
        new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(System.IO.Path.PathSeparator)
            .Where(p => System.IO.Path.GetFileName(p) is var f && (f.StartsWith("System.", StringComparison.Ordinal) || f is "netstandard.dll" or "mscorlib.dll"))
            .Concat([typeof(TorchSharp.torch).Assembly.Location, typeof(TokenformerGen.Modules.TokenformerModel).Assembly.Location, typeof(TokenformerGen.Text.Families.TokenizerKind).Assembly.Location])
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray());

    /// <summary>
    /// An empty consumer compilation with the solution's settings: nullable on, every warning wave,
    /// warnings reported. Compilations derived from it share its bound references (fast).
    /// </summary>
    private static readonly Lazy<CSharpCompilation> Base = new(() =>
    {
        var compilation = CSharpCompilation.Create(
            "Consumer",
            [CSharpSyntaxTree.ParseText("namespace Consumer { internal static class Anchor { } }", ParseOptions)],
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                warningLevel: 9999,
                deterministic: true));
        _ = compilation.GetDiagnostics(); // bind references once
        return compilation;
    });

    public static CSharpCompilation EmptyCompilation => Base.Value;

    public static GeneratorDriver CreateDriver(IEnumerable<AdditionalText> files, bool trackSteps = true)
        => CSharpGeneratorDriver.Create(
            [new TokenformerGenerator().AsSourceGenerator()],
            additionalTexts: files,
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    public static GeneratorRun Run(params (string Path, string Text)[] specs)
        => Run(specs.Select(s => (AdditionalText)new InMemoryAdditionalText(s.Path, s.Text)));

    /// <summary>Runs over C# sources (path, code) added to the empty compilation, plus optional spec files.</summary>
    public static GeneratorRun RunCode(IEnumerable<(string Path, string Code)> sources, IEnumerable<AdditionalText>? files = null)
        => Run(files ?? [], WithSources(sources));

    /// <summary>The empty compilation plus C# sources parsed with the solution's options.</summary>
    public static CSharpCompilation WithSources(IEnumerable<(string Path, string Code)> sources)
        => EmptyCompilation.AddSyntaxTrees(sources.Select(s => CSharpSyntaxTree.ParseText(s.Code, ParseOptions, s.Path, Encoding.UTF8)).ToArray());

    public static GeneratorRun Run(IEnumerable<AdditionalText> files, Compilation? compilation = null)
        => Run(CreateDriver(files), compilation ?? EmptyCompilation);

    public static GeneratorRun Run(GeneratorDriver driver, Compilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return new GeneratorRun(driver, output, driver.GetRunResult());
    }

    public static IReadOnlyList<Diagnostic> CompileDiagnostics(Compilation compilation)
    {
        using var pe = new MemoryStream();
        using var xml = new MemoryStream();
        var emit = compilation.Emit(pe, xmlDocumentationStream: xml);
        return emit.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
    }

    /// <summary>Only the syntax and declaration/method-body diagnostics (no emit): fast, for the fuzz test.</summary>
    public static IReadOnlyList<Diagnostic> QuickDiagnostics(Compilation compilation)
        => compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();

    /// <summary>A diagnostic as (ID, file, 1-based line, 1-based column).</summary>
    public static (string Id, string File, int Line, int Column) Where(Diagnostic diagnostic)
    {
        var span = diagnostic.Location.GetLineSpan();
        return (diagnostic.Id, span.Path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1);
    }

    public static string Format(IEnumerable<Diagnostic> diagnostics)
        => string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString()));
}
