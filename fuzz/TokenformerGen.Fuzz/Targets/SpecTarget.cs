extern alias GeneratorAssembly;

using System.Text;
using GeneratorAssembly::TokenformerGen.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace TokenformerGen.Fuzz;

/// <summary>
/// A <c>*.tfmodel.yaml</c> spec through the generator's own pipeline (parse → validate → plan), as the build runs it,
/// without Roslyn's driver or any compilation. Its documented refusal is error diagnostics; TFG0999 (an exception the
/// pipeline caught) is a crash, and so is a plan made despite an error.
/// </summary>
public static class SpecTarget
{
    /// <summary>The file name the pipeline is given; every diagnostic's location names it.</summary>
    public const string FileName = "Case.tfmodel.yaml";

    /// <summary>The spec target.</summary>
    public static readonly FuzzTarget Spec = new("spec", Run, ManagedFactor: 256, TensorFactor: 0);

    private static Outcome Run(byte[] input, string scratch)
    {
        var path = Path.Combine(scratch, FileName);
        var result = SpecPipeline.Run(path, SourceText.From(new UTF8Encoding(false, throwOnInvalidBytes: false).GetString(input)));
        var diagnostics = result.Diagnostics.Select(d => d.ToDiagnostic()).ToList();
        if (diagnostics.FirstOrDefault(d => d.Id == "TFG0999") is { } internalError)
            throw new InvalidOperationException($"the spec pipeline failed inside: {internalError}");
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count == 0)
            return result.Value?.Plan is null ? throw new InvalidOperationException("no error diagnostic and no plan") : Outcome.Accepted();
        if (result.Value?.Plan is not null) throw new InvalidOperationException($"a plan despite {errors[0]}");
        return Outcome.Refused(string.Join(Environment.NewLine, errors));
    }
}
