extern alias GeneratorAssembly;
using System.Collections;
using System.Reflection;
using GeneratorAssembly::TokenformerGen.Generator;
using GeneratorAssembly::TokenformerGen.Generator.Planning;
using GeneratorAssembly::TokenformerGen.Generator.Plumbing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>Incremental caching: nothing reruns without a reason, and caches hold no compiler objects.</summary>
public class IncrementalTests
{
    private static readonly string[] TrackedSteps =
    [
        TrackingNames.SpecFiles, TrackingNames.FileDiagnostics, TrackingNames.Identities,
        TrackingNames.DuplicateFamilies, TrackingNames.Plans,
        TrackingNames.AttributeFamilies, TrackingNames.AttributeDiagnostics, TrackingNames.AttributeIdentities,
        TrackingNames.AttributePlans, TrackingNames.StageAttributes,
    ];

    private static readonly AdditionalText TinyFile = new InMemoryAdditionalText(Specs.Path, Specs.Tiny);

    private static readonly AdditionalText OtherFile =
        new InMemoryAdditionalText("/specs/Other.tfmodel.yaml", Specs.Edit((2, "family: Other")));

    // Every front end at once: two YAML families, one attribute family, and a stray stage attribute.
    private static readonly CSharpCompilation Declared = GeneratorHarness.WithSources(
    [
        ("/src/DeclaredFamily.cs", AttributeSpecs.Tiny.Replace("class TinyFamily", "class DeclaredFamily", StringComparison.Ordinal)),
        ("/src/Stray.cs", "namespace Test.Models { [TokenformerGen.Declarations.TokenformerStage(\"Stray\", Qkv = 1, Proj = 1, Ffn = 1)] internal static class Stray { } }"),
    ]);

    [Fact]
    public void ASecondRunWithoutChangesReusesEveryStep()
    {
        var first = GeneratorHarness.Run([TinyFile, OtherFile], Declared);
        var second = GeneratorHarness.Run(first.Driver, Declared.Clone());

        Assert.Contains("Declared.Family.g.cs", first.Sources.Keys);
        Assert.Contains(first.Diagnostics, d => d.Id == "TFG0606");
        AssertAllCached(second.Single);
        Assert.Equal(first.Sources, second.Sources);
    }

    [Fact]
    public void EditingUnrelatedCsharpRegeneratesNothing()
    {
        var first = GeneratorHarness.Run([TinyFile, OtherFile], Declared);
        var edited = Declared.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace Consumer { internal static class Edited { } }", GeneratorHarness.ParseOptions));
        var second = GeneratorHarness.Run(first.Driver, edited);

        AssertAllCached(second.Single);
        foreach (var output in second.Single.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs))
        {
            Assert.Equal(IncrementalStepRunReason.Cached, output.Reason);
        }
    }

    [Fact]
    public void EditingOneOfTwoSpecsRegeneratesOnlyThatFamily()
    {
        var first = GeneratorHarness.Run([TinyFile, OtherFile]);
        var editedOther = new InMemoryAdditionalText(OtherFile.Path, OtherFile.GetText()!.ToString().Replace("context: 64", "context: 128"));
        var second = GeneratorHarness.Run(first.Driver.ReplaceAdditionalText(OtherFile, editedOther), GeneratorHarness.EmptyCompilation);

        var plans = second.Single.TrackedSteps[TrackingNames.Plans].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(2, plans.Count);
        Assert.Single(plans, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Single(plans, o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
        var modified = (ValueTuple<FamilyPlan, EquatableArray<string>>)plans.Single(o => o.Reason == IncrementalStepRunReason.Modified).Value;
        Assert.Equal("Other", modified.Item1.Name);

        // The duplicate check reran (an identity input changed) but found the same: nothing downstream moved.
        Assert.All(
            second.Single.TrackedSteps[TrackingNames.DuplicateFamilies].SelectMany(s => s.Outputs),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
        Assert.Equal(first.Sources["Tiny.Family.g.cs"], second.Sources["Tiny.Family.g.cs"]);
        Assert.NotEqual(first.Sources["Other.Family.g.cs"], second.Sources["Other.Family.g.cs"]);
    }

    [Fact]
    public void EditingTheAttributeDeclarationRegeneratesOnlyThatFamily()
    {
        var first = GeneratorHarness.Run([TinyFile, OtherFile], Declared);
        var tree = Declared.SyntaxTrees.Single(t => t.FilePath == "/src/DeclaredFamily.cs");
        var editedTree = tree.WithChangedText(tree.GetText().Replace(tree.GetText().ToString().IndexOf("Context = 64", StringComparison.Ordinal), "Context = 64".Length, "Context = 128"));
        var second = GeneratorHarness.Run(first.Driver, Declared.ReplaceSyntaxTree(tree, editedTree));

        var declared = second.Single.TrackedSteps[TrackingNames.AttributePlans].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(declared).Reason);
        Assert.All(
            second.Single.TrackedSteps[TrackingNames.Plans].SelectMany(s => s.Outputs),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
        Assert.Equal(first.Sources["Tiny.Family.g.cs"], second.Sources["Tiny.Family.g.cs"]);
        Assert.NotEqual(first.Sources["Declared.Family.g.cs"], second.Sources["Declared.Family.g.cs"]);
    }

    [Fact]
    public void CachedModelsHoldNoSymbolsCompilationsOrSyntax()
    {
        var invalid = new InMemoryAdditionalText("/specs/Bad.tfmodel.yaml", Specs.Edit((2, "family: Bad"), (10, "  heads: 5")));
        var invalidDeclared = Declared.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
            AttributeSpecs.Edit((15, "    Heads = 5,"), (27, "public static partial class BadDeclFamily")),
            GeneratorHarness.ParseOptions,
            "/src/BadDeclFamily.cs"));
        var run = GeneratorHarness.Run([TinyFile, OtherFile, invalid], invalidDeclared);
        Assert.Contains(run.Diagnostics, d => d.Id == "TFG0202" && d.Location.GetLineSpan().Path == "/src/BadDeclFamily.cs");
        foreach (var name in TrackedSteps)
        {
            foreach (var output in run.Single.TrackedSteps[name].SelectMany(s => s.Outputs))
            {
                AssertObjectGraph(output.Value, name);
            }
        }
    }

    private static void AssertAllCached(GeneratorRunResult result)
    {
        foreach (var name in TrackedSteps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(name), $"step {name} was not tracked");
            foreach (var output in result.TrackedSteps[name].SelectMany(s => s.Outputs))
            {
                Assert.True(
                    output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"{name}: {output.Reason}");
            }
        }
    }

    /// <summary>Walks everything reachable from a cached value and fails on compiler objects.</summary>
    private static void AssertObjectGraph(object? root, string step)
    {
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Visit(root, step);

        void Visit(object? node, string path)
        {
            if (node is null || node is string || node.GetType().IsPrimitive || node.GetType().IsEnum || !visited.Add(node))
            {
                return;
            }

            Assert.False(node is Compilation or ISymbol or SyntaxNode or SyntaxTree or SemanticModel or Location, $"{path} holds a {node.GetType().Name}");
            if (node is IEnumerable sequence)
            {
                var i = 0;
                foreach (var item in sequence)
                {
                    Visit(item, $"{path}[{i++}]");
                }
            }

            for (var type = node.GetType(); type is not null && type != typeof(object); type = type.BaseType)
            {
                foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    Assert.False(field.FieldType.IsArray && path.Length > 0 && !IsEquatableArrayStorage(type), $"{path}.{field.Name} is a plain array");
                    Visit(field.GetValue(node), $"{path}.{field.Name}");
                }
            }
        }
    }

    private static bool IsEquatableArrayStorage(Type type)
        => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EquatableArray<>);
}
