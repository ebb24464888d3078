using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Parsing;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Generator.Validation;

namespace TokenformerGen.Generator.Attributes;

/// <summary>
/// The attribute counterpart of <see cref="SpecPipeline"/>: one class declaration carrying
/// <c>[TokenformerFamily]</c> → attribute reader → the shared <see cref="SpecValidator"/> and
/// <see cref="PlanBuilder"/> → the same <see cref="Result{T}"/> of <see cref="SpecFile"/> a YAML file
/// yields. Symbols and syntax are used only inside the call; the result is plain equatable data.
/// Never throws (except for cancellation): an unexpected exception is TFG0999 at the class name.
/// </summary>
internal static class AttributePipeline
{
    public static Result<SpecFile> RunFamily(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var declaration = (TypeDeclarationSyntax)context.TargetNode;
        var tree = declaration.SyntaxTree;
        var path = tree.FilePath;
        var bag = new DiagnosticBag(path, SourceText.From(string.Empty));
        try
        {
            var text = tree.GetText(cancellationToken);
            bag = new DiagnosticBag(path, text);
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var family = context.Attributes.FirstOrDefault(a => IsOn(a, declaration));
            if (family is null)
            {
                return new Result<SpecFile>(new SpecFile(path, null, null), EquatableArray<DiagnosticInfo>.Empty);
            }

            var stages = type.GetAttributes()
                .Where(a => AttributeNames.Is(a, AttributeNames.Stage) && IsOn(a, declaration))
                .OrderBy(a => a.ApplicationSyntaxReference!.Span.Start)
                .ToList();

            CheckDeclaration(declaration, type, bag);
            var raw = AttributeSpecReader.Read(declaration, type, family, stages, bag, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            SpecValidator.Validate(raw, bag);
            var identity = raw.Family is { } name && SpecValidator.TypeNameProblem(name.Value) is null
                ? new FamilyIdentity(name.Value, bag.Locate(name.Range))
                : null;
            var plan = bag.HasErrors ? null : PlanBuilder.Build(raw, FamilyOrigin.Attributes, path, SpecText(declaration, text));
            return new Result<SpecFile>(new SpecFile(path, identity, plan), bag.ToEquatableArray());
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var diagnostics = bag.Items.ToList();
            diagnostics.Add(DiagnosticInfo.Create(
                DiagnosticDescriptors.InternalError,
                bag.Locate(Range(declaration.Identifier.Span)),
                $"{ex.GetType().Name}: {SpecReader.Shorten(ex.Message)}"));
            return new Result<SpecFile>(new SpecFile(path, null, null), diagnostics.ToEquatableArray());
        }
    }

    /// <summary>
    /// Stage attributes that belong to no family: on a class without <c>[TokenformerFamily]</c>
    /// (TFG0606), or on another part of a partial class than the family attribute (TFG0607).
    /// </summary>
    public static EquatableArray<DiagnosticInfo> CheckStages(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var declaration = context.TargetNode;
        var tree = declaration.SyntaxTree;
        var bag = new DiagnosticBag(tree.FilePath, tree.GetText(cancellationToken));
        var type = context.TargetSymbol;
        var families = type.GetAttributes().Where(a => AttributeNames.Is(a, AttributeNames.Family)).ToList();
        if (families.Any(a => IsOn(a, declaration)))
        {
            return EquatableArray<DiagnosticInfo>.Empty; // the family pipeline reads these stages
        }

        var descriptor = families.Count == 0 ? DiagnosticDescriptors.StageWithoutFamily : DiagnosticDescriptors.StageOnOtherDeclaration;
        foreach (var stage in context.Attributes.Where(a => IsOn(a, declaration)))
        {
            bag.Report(descriptor, Range(stage.ApplicationSyntaxReference!.Span), type.Name);
        }

        return bag.ToEquatableArray();
    }

    /// <summary>TFG0601–0605: the class must be a top-level, non-generic partial class {Name}Family in a namespace.</summary>
    private static void CheckDeclaration(TypeDeclarationSyntax declaration, INamedTypeSymbol type, DiagnosticBag bag)
    {
        var name = Range(declaration.Identifier.Span);
        if (declaration is not ClassDeclarationSyntax || !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            bag.Report(DiagnosticDescriptors.FamilyClassNotPartial, name, type.Name);
        }

        if (type.ContainingType is { } outer)
        {
            bag.Report(DiagnosticDescriptors.FamilyClassNested, name, type.Name, outer.Name);
        }

        if (declaration.TypeParameterList is { } typeParameters)
        {
            bag.Report(DiagnosticDescriptors.FamilyClassGeneric, Range(typeParameters.Span), type.Name);
        }

        if (type.ContainingNamespace.IsGlobalNamespace)
        {
            bag.Report(DiagnosticDescriptors.FamilyClassInGlobalNamespace, name, type.Name);
        }

        if (!type.Name.EndsWith(AttributeNames.ClassSuffix, StringComparison.Ordinal))
        {
            bag.Report(DiagnosticDescriptors.FamilyClassName, name, type.Name);
        }
    }

    /// <summary>
    /// The family's "spec text": the attribute lists that declare it, exactly as written (from the
    /// first to the last list holding a TokenformerGen attribute), so the hash changes with the declaration.
    /// </summary>
    private static string SpecText(TypeDeclarationSyntax declaration, SourceText text)
    {
        var lists = declaration.AttributeLists
            .Where(l => l.Attributes.Any(a => IsTokenformerName(a.Name)))
            .ToList();
        return lists.Count == 0
            ? string.Empty
            : text.ToString(TextSpan.FromBounds(lists[0].SpanStart, lists[lists.Count - 1].Span.End));
    }

    private static bool IsTokenformerName(NameSyntax name)
    {
        var simple = name switch
        {
            QualifiedNameSyntax q => q.Right.Identifier.ValueText,
            AliasQualifiedNameSyntax a => a.Name.Identifier.ValueText,
            SimpleNameSyntax s => s.Identifier.ValueText,
            _ => string.Empty,
        };
        return simple is AttributeNames.FamilyShort or AttributeNames.StageShort
            or AttributeNames.FamilyShort + "Attribute" or AttributeNames.StageShort + "Attribute";
    }

    /// <summary>Whether an attribute is written on this declaration (not on another part of a partial class).</summary>
    private static bool IsOn(AttributeData attribute, SyntaxNode declaration)
        => attribute.ApplicationSyntaxReference is { } reference
           && reference.SyntaxTree == declaration.SyntaxTree
           && declaration is MemberDeclarationSyntax member
           && member.AttributeLists.Any(l => l.Span.Contains(reference.Span));

    private static SourceRange Range(TextSpan span) => new(span.Start, span.End);
}
