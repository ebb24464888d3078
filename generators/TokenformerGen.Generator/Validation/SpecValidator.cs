using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.CSharp;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Parsing;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Validation;

/// <summary>
/// Checks what a raw spec means: sizes, divisibility, rotary dimensions, names that become C#,
/// and the stage schedule (parents, cycles, shrinking, fixed dimensions, function preservation).
/// Reports every problem it finds; the planner runs only when no error was reported.
/// </summary>
internal sealed class SpecValidator
{
    private static readonly Regex TypeNamePattern = new("^[A-Z][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);
    private static readonly Regex NamespaceSegmentPattern = new("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);

    private readonly DiagnosticBag _bag;
    private readonly RawFamilySpec _spec;

    private SpecValidator(RawFamilySpec spec, DiagnosticBag bag)
    {
        _spec = spec;
        _bag = bag;
    }

    public static void Validate(RawFamilySpec spec, DiagnosticBag bag) => new SpecValidator(spec, bag).Run();

    /// <summary>
    /// Why <paramref name="name"/> cannot name a generated type, or <see langword="null"/> if it can.
    /// Type names start with an ASCII capital (no keywords, no CS8981 lower-case type names) and are
    /// ASCII (they also name generated files).
    /// </summary>
    public static string? TypeNameProblem(string name)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name.Length > Limits.MaxNameLength)
        {
            return $"it is longer than {Limits.MaxNameLength} characters";
        }

        return TypeNamePattern.IsMatch(name)
            ? null
            : "it must start with an ASCII capital letter and contain only ASCII letters, digits and underscores";
    }

    public static string? NamespaceProblem(string name)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        foreach (var segment in name.Split('.'))
        {
            if (!NamespaceSegmentPattern.IsMatch(segment))
            {
                return segment.Length == 0
                    ? "it has an empty segment"
                    : $"the segment '{SpecReader.Shorten(segment)}' is not an ASCII identifier";
            }

            if (SyntaxFacts.GetKeywordKind(segment) != SyntaxKind.None || segment == "global")
            {
                return $"the segment '{segment}' is a C# keyword";
            }
        }

        return null;
    }

    /// <summary>How messages name a value: the YAML path, or the attribute argument it came from.</summary>
    private string Show(string path) => _spec.DescribePath(path);

    private void Run()
    {
        CheckNames();
        CheckVocabulary(_spec.Vocab, "vocab");
        CheckTokenizer();
        CheckRange(_spec.Context, "context", Limits.MaxContext);
        CheckArchitecture();
        CheckStages();
    }

    private void CheckNames()
    {
        if (_spec.Family is { } family && TypeNameProblem(family.Value) is { } problem)
        {
            _bag.Report(DiagnosticDescriptors.InvalidIdentifier, family.Range, SpecReader.Shorten(family.Value), "family name", problem);
        }

        if (_spec.Namespace is { } ns && NamespaceProblem(ns.Value) is { } nsProblem)
        {
            _bag.Report(DiagnosticDescriptors.InvalidNamespace, ns.Range, SpecReader.Shorten(ns.Value), nsProblem);
        }
    }

    private void CheckVocabulary(RawVocab? vocab, string path)
    {
        if (vocab is null)
        {
            return;
        }

        CheckRange(vocab.Size, path + ".size", Limits.MaxVocabulary);
        CheckRange(vocab.PadToMultiple, path + ".pad_to_multiple", Limits.MaxPadMultiple);
    }

    private void CheckTokenizer()
    {
        if (_spec.Tokenizer is not { } tokenizer || _spec.Vocab?.Size is not { } size)
        {
            return;
        }

        var minimum = tokenizer.Value switch
        {
            TokenizerKind.Byte => 256,
            TokenizerKind.Gpt2 => 50257,
            _ => 0,
        };
        if (size.Value > 0 && size.Value < minimum)
        {
            _bag.Report(DiagnosticDescriptors.VocabularyTooSmall, size.Range, Invariant.Format(size.Value), tokenizer.Value.SpecName(), minimum);
        }
    }

    private void CheckArchitecture()
    {
        if (_spec.Architecture is not { } a)
        {
            return;
        }

        var layersOk = CheckRange(a.Layers, "architecture.layers", Limits.MaxLayers);
        var hiddenOk = CheckRange(a.Hidden, "architecture.hidden", Limits.MaxHidden);
        var headsOk = CheckRange(a.Heads, "architecture.heads", Limits.MaxHidden);
        CheckRange(a.MlpHidden, "architecture.mlp_hidden", Limits.MaxTokens);
        _ = layersOk;

        if (hiddenOk && headsOk)
        {
            var hidden = a.Hidden!.Value;
            var heads = a.Heads!.Value;
            if (hidden.Value % heads.Value != 0)
            {
                _bag.Report(DiagnosticDescriptors.HiddenNotDivisibleByHeads, heads.Range, Invariant.Format(hidden.Value), Invariant.Format(heads.Value));
            }
            else if (a.RotaryFraction is { } fraction && CheckPositive(fraction, "architecture.rotary.fraction"))
            {
                CheckRotary(fraction, hidden.Value / heads.Value);
            }
        }
        else if (a.RotaryFraction is { } fraction)
        {
            CheckPositive(fraction, "architecture.rotary.fraction");
        }

        if (a.RotaryBase is { } rotaryBase)
        {
            CheckPositive(rotaryBase, "architecture.rotary.base");
        }

        if (a.Epsilon is { } epsilon && epsilon.Value < 0)
        {
            _bag.Report(DiagnosticDescriptors.ValueOutOfRange, epsilon.Range, Show("architecture.pattention.epsilon"), Invariant.Format(epsilon.Value), "[0, ∞)");
        }

        CheckCounts(a.TauQkv, a.TauProj, a.TauFfn, "architecture.pattention.tau_tokens");

        if (a.KeyStd is { } keyStd)
        {
            CheckPositive(keyStd, "architecture.init.key_std");
        }

        if (a.ValueStd is { } valueStd)
        {
            CheckPositive(valueStd, "architecture.init.value_std");
        }

        if (a.EmbeddingStd is { } embeddingStd)
        {
            CheckPositive(embeddingStd, "architecture.init.embedding_std");
        }

        if (a.TiedEmbeddings is { Value: false } tied)
        {
            _bag.Report(
                DiagnosticDescriptors.UnsupportedValue,
                tied.Range,
                Show("architecture.tied_embeddings"),
                "false",
                "the LM head is the token embedding, as in every released Tokenformer");
        }
    }

    /// <summary>Rotary dims = int(fraction · head_dim), as the official code computes it.</summary>
    private void CheckRotary(Located<double> fraction, long headDim)
    {
        var product = fraction.Value * headDim;
        var shownDims = product >= long.MaxValue ? Invariant.Format(Math.Floor(product)) : Invariant.Format((long)Math.Floor(product));
        if (product < 1 || product >= headDim + 1)
        {
            _bag.Report(DiagnosticDescriptors.RotaryDimsOutOfRange, fraction.Range, Invariant.Format(fraction.Value), Invariant.Format(headDim), shownDims);
        }
        else if ((long)Math.Floor(product) % 2 != 0)
        {
            _bag.Report(DiagnosticDescriptors.RotaryDimsOdd, fraction.Range, Invariant.Format(fraction.Value), Invariant.Format(headDim), shownDims);
        }
    }

    private void CheckStages()
    {
        var stages = _spec.Stages;
        var byName = new Dictionary<string, RawStage>(StringComparer.OrdinalIgnoreCase);
        foreach (var stage in stages)
        {
            if (stage.Name is not { } name)
            {
                continue;
            }

            if (TypeNameProblem(name.Value) is { } problem)
            {
                _bag.Report(DiagnosticDescriptors.InvalidIdentifier, name.Range, SpecReader.Shorten(name.Value), "stage name", problem);
            }
            else if (GeneratedNames.ReservedStageNames.Contains(name.Value)
                     || (_spec.Family is { } family && name.Value == GeneratedNames.FamilyClass(family.Value)))
            {
                var owner = _spec.Family is { } f ? GeneratedNames.FamilyClass(f.Value) : "the family class";
                _bag.Report(DiagnosticDescriptors.ReservedStageName, name.Range, name.Value, owner);
            }

            if (byName.TryGetValue(name.Value, out var first))
            {
                _bag.Report(DiagnosticDescriptors.DuplicateStageName, name.Range, name.Value, _bag.LineOf(first.Name!.Value.Range));
            }
            else
            {
                byName.Add(name.Value, stage);
            }
        }

        foreach (var stage in stages)
        {
            CheckCounts(stage.Qkv, stage.Proj, stage.Ffn, $"stages[{stage.Index}].tokens");
            CheckTraining(stage);
            CheckFixedDimensions(stage);
            CheckParent(stage, byName);
        }
    }

    private void CheckTraining(RawStage stage)
    {
        if (stage.Train is not { } train)
        {
            return;
        }

        var path = $"stages[{stage.Index}].train";
        CheckRange(train.Tokens, path + ".tokens", Limits.MaxTrainTokens);
        CheckRange(train.Batch, path + ".batch", Limits.MaxBatch);
        if (train.LearningRate is { } lr)
        {
            CheckPositive(lr, path + ".learning_rate");
        }

        if (train.Warmup is { } warmup && (warmup.Value < 0 || warmup.Value >= 1))
        {
            _bag.Report(DiagnosticDescriptors.ValueOutOfRange, warmup.Range, Show(path + ".warmup"), Invariant.Format(warmup.Value), "[0, 1) (a fraction of the stage's steps)");
        }
    }

    private void CheckFixedDimensions(RawStage stage)
    {
        var label = stage.Name?.Value ?? $"stages[{stage.Index}]";
        var a = _spec.Architecture;
        CheckRange(stage.Layers, $"stages[{stage.Index}].layers", Limits.MaxLayers);
        Compare(stage.Hidden, a?.Hidden, "hidden");
        Compare(stage.Heads, a?.Heads, "heads");
        if (stage.Vocab is { } vocab)
        {
            Compare(vocab.Size, _spec.Vocab?.Size, "vocab.size");
            Compare(vocab.PadToMultiple, _spec.Vocab?.PadToMultiple, "vocab.pad_to_multiple");
        }

        void Compare(Located<long>? restated, Located<long>? family, string what)
        {
            if (restated is { } r && family is { } f && r.Value != f.Value)
            {
                _bag.Report(DiagnosticDescriptors.FixedDimensionChanged, r.Range, label, what, Invariant.Format(r.Value), Invariant.Format(f.Value));
            }
        }
    }

    private void CheckParent(RawStage stage, Dictionary<string, RawStage> byName)
    {
        var label = stage.Name?.Value ?? $"stages[{stage.Index}]";
        if (stage.From is not { } from)
        {
            if (stage.Growth is { } growth)
            {
                _bag.Report(DiagnosticDescriptors.GrowthWithoutParent, growth.Range, label);
            }

            return;
        }

        if (!byName.TryGetValue(from.Value, out var parent) || !string.Equals(parent.Name!.Value.Value, from.Value, StringComparison.Ordinal))
        {
            _bag.Report(DiagnosticDescriptors.UnknownParentStage, from.Range, label, SpecReader.Shorten(from.Value));
            return;
        }

        if (parent.Index >= stage.Index)
        {
            if (Cycle(stage, byName) is { } cycle)
            {
                // Report a cycle once, at its first stage in file order.
                if (cycle.Min(s => s.Index) == stage.Index)
                {
                    var names = cycle.Concat(new[] { cycle[0] }).Select(s => $"'{s.Name!.Value.Value}'").ToList();
                    var path = names[0] + " grows from " + string.Join(", which grows from ", names.Skip(1));
                    _bag.Report(DiagnosticDescriptors.StageCycle, from.Range, path);
                }
            }
            else
            {
                _bag.Report(DiagnosticDescriptors.ParentStageNotEarlier, from.Range, label, from.Value);
            }

            return;
        }

        CheckGrowth(stage, parent, label);
    }

    /// <summary>
    /// The stages met following "grows from" links from <paramref name="start"/> back to it, or
    /// <see langword="null"/> when <paramref name="start"/> is not on a cycle.
    /// </summary>
    private static List<RawStage>? Cycle(RawStage start, Dictionary<string, RawStage> byName)
    {
        var chain = new List<RawStage> { start };
        var current = start;
        while (current.From is { } from && byName.TryGetValue(from.Value, out var next))
        {
            if (next == start)
            {
                return chain;
            }

            if (chain.Contains(next))
            {
                return null; // start leads into a cycle it is not part of
            }

            chain.Add(next);
            current = next;
        }

        return null;
    }

    private void CheckGrowth(RawStage stage, RawStage parent, string label)
    {
        var parentName = parent.Name!.Value.Value;
        CheckDepth(stage, parent, label, parentName);
        if (_spec.Architecture?.Block?.Value == BlockKind.Transformer)
        {
            return;   // no tokens to grow
        }

        var grows = false;
        var countsKnown = true;
        Check(stage.Qkv, parent.Qkv, "qkv");
        Check(stage.Proj, parent.Proj, "proj");
        Check(stage.Ffn, parent.Ffn, "ffn");

        if (!countsKnown || !grows || stage.Growth is not { } growth || _spec.Architecture is not { Norm: { } norm, Tau: { } tau })
        {
            return;
        }

        // τ as PlanBuilder.Tau sets it: it follows the count under sqrt_n, and a random stage takes √n of its own
        // count under fixed too; only a zero_keys stage under fixed inherits its parent's.
        var tauChanges = tau.Value == TauPolicy.SqrtN || !growth.Value.ZeroesNewKeys();
        switch (FunctionPreservation.Of(norm.Value, growth.Value, grows, tauChanges))
        {
            case FunctionChange.RandomKeys:
                _bag.Report(DiagnosticDescriptors.RandomGrowthChangesFunction, growth.Range, parentName, label);
                break;
            case FunctionChange.SoftmaxMass:
                _bag.Report(DiagnosticDescriptors.SoftmaxGrowthChangesFunction, growth.Range, parentName, label);
                break;
            case FunctionChange.TauChanges:
                var changes = string.Join(", ", new[]
                {
                    Describe("qkv", parent.Qkv, stage.Qkv), Describe("proj", parent.Proj, stage.Proj), Describe("ffn", parent.Ffn, stage.Ffn),
                }.Where(s => s is not null));
                _bag.Report(DiagnosticDescriptors.SqrtNTauChangesFunction, growth.Range, parentName, label, changes);
                break;
        }

        void Check(Located<long>? child, Located<long>? before, string kind)
        {
            if (child is not { } c || before is not { } p)
            {
                countsKnown = false;
                return;
            }

            if (c.Value < p.Value)
            {
                _bag.Report(DiagnosticDescriptors.TokenCountShrinks, c.Range, label, Invariant.Format(c.Value), kind, Invariant.Format(p.Value), parentName);
            }
            else if (c.Value > p.Value)
            {
                grows = true;
            }
        }

        static string? Describe(string kind, Located<long>? before, Located<long>? after)
            => before?.Value == after?.Value ? null : $"{kind} τ √{before?.Value} → √{after?.Value}";
    }

    // A stage is as deep as it says, else as its parent, else as architecture.layers; it may only add blocks, and says how.
    private void CheckDepth(RawStage stage, RawStage parent, string label, string parentName)
    {
        if (Depth(stage) is not { } depth || Depth(parent) is not { } parentDepth)
        {
            return;
        }

        if (depth < parentDepth)
        {
            _bag.Report(DiagnosticDescriptors.LayersShrink, stage.Layers!.Value.Range, label, Invariant.Format(depth), Invariant.Format(parentDepth), parentName);
        }
        else if (depth > parentDepth && stage.LayerGrowth is null && stage.GrowthRange is { } growth)
        {
            _bag.Report(DiagnosticDescriptors.MissingLayerGrowth, growth, label, Invariant.Format(depth), Invariant.Format(parentDepth), parentName, SpecChoices.LayerGrowth.Join("|"));
        }
    }

    /// <summary>The depth of <paramref name="stage"/> as PlanBuilder sets it, or null when some link is unknown.</summary>
    private long? Depth(RawStage stage)
    {
        var seen = new HashSet<RawStage>();
        for (var current = stage; seen.Add(current);)
        {
            if (current.Layers is { } layers) return layers.Value >= 1 ? layers.Value : null;
            if (current.From is not { } from) return _spec.Architecture?.Layers?.Value;
            var parent = _spec.Stages.FirstOrDefault(s => s.Name?.Value == from.Value && s.Index < current.Index);
            if (parent is null) return null;
            current = parent;
        }
        return null;
    }

    // A qkv/proj/ffn triple of token counts (a stage's tokens, tau_tokens): each in 1..the token limit.
    private void CheckCounts(Located<long>? qkv, Located<long>? proj, Located<long>? ffn, string path)
    {
        CheckRange(qkv, path + ".qkv", Limits.MaxTokens);
        CheckRange(proj, path + ".proj", Limits.MaxTokens);
        CheckRange(ffn, path + ".ffn", Limits.MaxTokens);
    }

    private bool CheckRange(Located<long>? value, string path, long maximum)
    {
        if (value is not { } v)
        {
            return false;
        }

        if (v.Value <= 0)
        {
            _bag.Report(DiagnosticDescriptors.NonPositive, v.Range, Show(path), Invariant.Format(v.Value));
            return false;
        }

        if (v.Value > maximum)
        {
            _bag.Report(DiagnosticDescriptors.ValueOutOfRange, v.Range, Show(path), Invariant.Format(v.Value), $"1..{Invariant.Format(maximum)}");
            return false;
        }

        return true;
    }

    private bool CheckPositive(Located<double> value, string path)
    {
        if (value.Value > 0)
        {
            return true;
        }

        _bag.Report(DiagnosticDescriptors.NonPositive, value.Range, Show(path), Invariant.Format(value.Value));
        return false;
    }
}
