using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Emit;
using TokenformerGen.Generator.Model;
using TokenformerGen.Generator.Planning;

namespace TokenformerGen.Generator;

/// <summary>
/// Compiles Tokenformer model-family specs (<c>*.tfmodel.yaml</c> AdditionalFiles) into C#.
/// Pipeline: each file → <see cref="SpecPipeline"/> (parse, validate, plan; cached per file) →
/// diagnostics (own output) and, per error-free family, the emitters. Families whose names clash
/// across files are reported at every declaration and not emitted (their files would collide).
/// Nothing here reads the Compilation, so editing C# never re-runs the pipeline.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class TokenformerGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var files = context.AdditionalTextsProvider
            .Where(static file => SpecPipeline.IsSpecFile(file.Path))
            .Select(static (file, cancellationToken) => SpecPipeline.Run(file, cancellationToken))
            .WithTrackingName(TrackingNames.SpecFiles);

        var fileDiagnostics = files
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.FileDiagnostics);
        context.RegisterSourceOutput(fileDiagnostics, static (spc, diagnostics) => Report(spc, diagnostics));

        var duplicates = files
            .Select(static (result, _) => result.Value?.Identity)
            .WithTrackingName(TrackingNames.Identities)
            .Collect()
            .Select(static (identities, _) => SpecPipeline.FindDuplicates(identities))
            .WithTrackingName(TrackingNames.DuplicateFamilies);
        context.RegisterSourceOutput(duplicates, static (spc, found) => Report(spc, found.Diagnostics));

        var plans = files
            .Select(static (result, _) => result.Value?.Plan)
            .Where(static plan => plan is not null)
            .Select(static (plan, _) => plan!)
            .Combine(duplicates.Select(static (found, _) => found.Names))
            .WithTrackingName(TrackingNames.Plans);
        context.RegisterSourceOutput(plans, static (spc, input) => Emit(spc, input.Left, input.Right));
    }

    private static void Report(SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            context.ReportDiagnostic(diagnostic.ToDiagnostic());
        }
    }

    private static void Emit(SourceProductionContext context, FamilyPlan plan, EquatableArray<string> duplicateNames)
    {
        if (duplicateNames.Any(name => string.Equals(name, plan.Name, StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }

        try
        {
            context.AddSource(FamilyConstantsEmitter.HintName(plan), FamilyConstantsEmitter.Emit(plan));
            foreach (var stage in plan.Stages)
            {
                context.AddSource(ModelEmitter.HintName(plan, stage), ModelEmitter.Emit(plan, stage));
            }

            foreach (var edge in plan.Edges)
            {
                context.AddSource(EdgeEmitter.HintName(plan, edge), EdgeEmitter.Emit(plan, edge));
            }

            context.AddSource(RegistryEmitter.HintName(plan), RegistryEmitter.Emit(plan));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            context.ReportDiagnostic(Diagnostic.Create(
                DiagnosticDescriptors.InternalError,
                Location.None,
                $"emitting family '{plan.Name}': {ex.GetType().Name}: {ex.Message}"));
        }
    }
}
