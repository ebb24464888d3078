using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Parsing;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Generator.Validation;

namespace TokenformerGen.Generator;

/// <summary>
/// The stages of one spec file, Parser → Validator → Planner, as one pure function from text to a
/// <see cref="Result{T}"/>. Never throws (except for cancellation): an unexpected exception becomes
/// TFG0999 at the top of the file, next to whatever was already found.
/// </summary>
internal static class SpecPipeline
{
    public const string FileSuffix = ".tfmodel.yaml";

    public static bool IsSpecFile(string path) => path.EndsWith(FileSuffix, StringComparison.OrdinalIgnoreCase);

    public static Result<SpecFile> Run(AdditionalText file, CancellationToken cancellationToken)
    {
        SourceText? text;
        try
        {
            text = file.GetText(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Failed(file.Path, SourceText.From(string.Empty), null, ex);
        }

        if (text is null)
        {
            var bag = new DiagnosticBag(file.Path, SourceText.From(string.Empty));
            bag.Report(DiagnosticDescriptors.UnreadableSpec, SourceRange.FileStart, file.Path);
            return new Result<SpecFile>(new SpecFile(file.Path, null, null), bag.ToEquatableArray());
        }

        return Run(file.Path, text, cancellationToken);
    }

    public static Result<SpecFile> Run(string path, SourceText text, CancellationToken cancellationToken = default)
    {
        var bag = new DiagnosticBag(path, text);
        try
        {
            var content = text.ToString();
            var root = YamlTreeReader.Read(content, bag);
            cancellationToken.ThrowIfCancellationRequested();
            var raw = SpecReader.Read(root, bag);
            if (raw is null)
            {
                return new Result<SpecFile>(new SpecFile(path, null, null), bag.ToEquatableArray());
            }

            SpecValidator.Validate(raw, bag);
            var identity = raw.Family is { } family && SpecValidator.TypeNameProblem(family.Value) is null
                ? new FamilyIdentity(family.Value, bag.Locate(family.Range))
                : null;
            var plan = bag.HasErrors ? null : PlanBuilder.Build(raw, FamilyOrigin.Yaml, path, content);
            return new Result<SpecFile>(new SpecFile(path, identity, plan), bag.ToEquatableArray());
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return Failed(path, text, bag, ex);
        }
    }

    /// <summary>Duplicate family names across files (ignoring case, as generated file names do).</summary>
    public static DuplicateFamilies FindDuplicates(ImmutableArray<FamilyIdentity?> identities)
    {
        var names = new List<string>();
        var diagnostics = new List<DiagnosticInfo>();
        var groups = identities
            .Where(i => i is not null)
            .Select(i => i!)
            .GroupBy(i => i.Name, StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Count() > 1);
        foreach (var group in groups)
        {
            var members = group.ToList();
            names.AddRange(members.Select(m => m.Name).Distinct(StringComparer.Ordinal));
            foreach (var member in members)
            {
                var others = string.Join(
                    " and ",
                    members.Where(m => !ReferenceEquals(m, member)).Select(m => Describe(m.Location)));
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateFamilyName, member.Location, member.Name, others));
            }
        }

        return new DuplicateFamilies(names.ToEquatableArray(), diagnostics.ToEquatableArray());
    }

    private static string Describe(LocationInfo location)
        => $"{location.FilePath}({location.LineSpan.Start.Line + 1},{location.LineSpan.Start.Character + 1})";

    private static Result<SpecFile> Failed(string path, SourceText text, DiagnosticBag? bag, Exception ex)
    {
        bag ??= new DiagnosticBag(path, text);
        var diagnostics = bag.Items.ToList();
        diagnostics.Add(DiagnosticInfo.Create(
            DiagnosticDescriptors.InternalError,
            bag.Locate(SourceRange.FileStart),
            $"{ex.GetType().Name}: {SpecReader.Shorten(ex.Message)}"));
        return new Result<SpecFile>(new SpecFile(path, null, null), diagnostics.ToEquatableArray());
    }
}

/// <summary>Family names declared by more than one spec, and the diagnostics saying so.</summary>
internal sealed record DuplicateFamilies(EquatableArray<string> Names, EquatableArray<DiagnosticInfo> Diagnostics);
