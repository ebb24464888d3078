using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TokenformerGen.Generator.Attributes;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Emit;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;

namespace TokenformerGen.Generator;

/// <summary>
/// Compiles Tokenformer model families into C#. Two front ends, one pipeline: each
/// <c>*.tfmodel.yaml</c> AdditionalFile → <see cref="SpecPipeline"/>, and each class carrying
/// <c>[TokenformerFamily]</c> → <see cref="AttributePipeline"/>; both read into the same raw spec and
/// run the same validator and planner (cached per file / per declaration), then diagnostics (own
/// outputs) and, per error-free family, the same emitters. Families whose names clash across files
/// or front ends are reported at every declaration and not emitted (their files would collide).
/// Nothing here reads the Compilation directly: ForAttributeWithMetadataName re-runs the attribute
/// transform on C# edits, but its output is plain equatable data, so unchanged families stay cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class TokenformerGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // Front end 1: *.tfmodel.yaml AdditionalFiles.
        var files = context.AdditionalTextsProvider
            .Where(static file => SpecPipeline.IsSpecFile(file.Path))
            .Select(static (file, cancellationToken) => SpecPipeline.Run(file, cancellationToken))
            .WithTrackingName(TrackingNames.SpecFiles);

        // Front end 2: [TokenformerFamily] on a partial class. Same Result<SpecFile> as a YAML file.
        var declared = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeNames.Family,
                static (node, _) => node is TypeDeclarationSyntax,
                static (attributeContext, cancellationToken) => AttributePipeline.RunFamily(attributeContext, cancellationToken))
            .WithTrackingName(TrackingNames.AttributeFamilies);

        // [TokenformerStage] that belongs to no family declaration.
        var strayStages = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeNames.Stage,
                static (node, _) => node is TypeDeclarationSyntax,
                static (attributeContext, cancellationToken) => AttributePipeline.CheckStages(attributeContext, cancellationToken))
            .WithTrackingName(TrackingNames.StageAttributes);
        context.RegisterSourceOutput(strayStages, static (spc, diagnostics) => Report(spc, diagnostics));

        var fileDiagnostics = files
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.FileDiagnostics);
        context.RegisterSourceOutput(fileDiagnostics, static (spc, diagnostics) => Report(spc, diagnostics));

        var declaredDiagnostics = declared
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.AttributeDiagnostics);
        context.RegisterSourceOutput(declaredDiagnostics, static (spc, diagnostics) => Report(spc, diagnostics));

        // Family names are unique across both front ends.
        var duplicates = files
            .Select(static (result, _) => result.Value?.Identity)
            .WithTrackingName(TrackingNames.Identities)
            .Collect()
            .Combine(declared
                .Select(static (result, _) => result.Value?.Identity)
                .WithTrackingName(TrackingNames.AttributeIdentities)
                .Collect())
            .Select(static (identities, _) => SpecPipeline.FindDuplicates(identities.Left.AddRange(identities.Right)))
            .WithTrackingName(TrackingNames.DuplicateFamilies);
        context.RegisterSourceOutput(duplicates, static (spc, found) => Report(spc, found.Diagnostics));
        var duplicateNames = duplicates.Select(static (found, _) => found.Names);

        var plans = files
            .Select(static (result, _) => result.Value?.Plan)
            .Where(static plan => plan is not null)
            .Select(static (plan, _) => plan!)
            .Combine(duplicateNames)
            .WithTrackingName(TrackingNames.Plans);
        context.RegisterSourceOutput(plans, static (spc, input) => Emit(spc, input.Left, input.Right));

        var declaredPlans = declared
            .Select(static (result, _) => result.Value?.Plan)
            .Where(static plan => plan is not null)
            .Select(static (plan, _) => plan!)
            .Combine(duplicateNames)
            .WithTrackingName(TrackingNames.AttributePlans);
        context.RegisterSourceOutput(declaredPlans, static (spc, input) => Emit(spc, input.Left, input.Right));
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
