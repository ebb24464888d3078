using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using TokenformerGen.Architecture;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Parsing;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Planning;

/// <summary>
/// Turns a validated raw spec into a <see cref="FamilyPlan"/>: computes the derived values once
/// (padded vocabulary, head and rotary dimensions, value-init std, τ per stage and Pattention kind,
/// parameter counts and FLOPs through the shared <see cref="ModelSize"/>). Runs only on specs the
/// validator passed, so a missing value here is a bug (an exception the pipeline turns into TFG0999).
/// </summary>
internal static class PlanBuilder
{
    public static FamilyPlan Build(RawFamilySpec spec, FamilyOrigin origin, string path, string text)
    {
        var vocab = Need(spec.Vocab);
        var a = Need(spec.Architecture);
        var vocabulary = new VocabularyPlan(
            Int(vocab.Size),
            Int(vocab.PadToMultiple),
            checked((int)ModelSize.PaddedVocabulary(Need(vocab.Size).Value, Need(vocab.PadToMultiple).Value)));
        var context = Int(spec.Context);
        var layers = Int(a.Layers);
        var hidden = Int(a.Hidden);
        var heads = Int(a.Heads);
        var headDim = hidden / heads;
        var fraction = Need(a.RotaryFraction).Value;
        var valueInit = Need(a.ValueInit).Value;
        var normalValueStd = valueInit == ValueInitializer.Normal ? Need(a.ValueStd).Value : 0;
        double ValueStd(int depth) => valueInit == ValueInitializer.Wang ? 2.0 / (depth * Math.Sqrt(hidden)) : normalValueStd;
        var init = new InitPlan(Need(a.KeyStd).Value, valueInit, ValueStd(layers), Need(a.EmbeddingStd).Value);
        var block = Need(a.Block).Value;
        var mlpHidden = block == BlockKind.Transformer ? (a.MlpHidden is { } m ? checked((int)m.Value) : 4 * hidden) : 0;
        var architecture = new ArchitecturePlan(
            layers,
            hidden,
            heads,
            headDim,
            fraction,
            (int)Math.Floor(fraction * headDim),
            Need(a.RotaryBase).Value,
            Need(a.Norm).Value,
            Need(a.Tau).Value,
            Need(a.Epsilon).Value,
            init,
            Need(a.TiedEmbeddings).Value,
            block,
            mlpHidden,
            a.TauQkv is null ? null : new PattentionCounts(Int(a.TauQkv), Int(a.TauProj), Int(a.TauFfn)));

        var stages = new List<StagePlan>();
        var edges = new List<GrowthEdgePlan>();
        var indexByName = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var raw in spec.Stages)
        {
            var name = Need(raw.Name).Value;
            var tokens = architecture.IsTransformer ? new PattentionCounts(0, 0, 0) : new PattentionCounts(Int(raw.Qkv), Int(raw.Proj), Int(raw.Ffn));
            StagePlan? parent = null;
            GrowthPolicy? growth = null;
            if (raw.From is { } from)
            {
                parent = stages[indexByName[from.Value]];
                growth = architecture.IsTransformer ? null : Need(raw.Growth).Value;
            }

            var depth = raw.Layers is { } l ? checked((int)l.Value) : parent?.Layers ?? layers;
            var layerGrowth = parent is not null && depth > parent.Layers ? raw.LayerGrowth?.Value : null;
            var blockParameters = architecture.IsTransformer
                ? ModelSize.TransformerBlockParameters(hidden, mlpHidden)
                : ModelSize.TokenformerBlockParameters(hidden, tokens.Qkv, tokens.Proj, tokens.Ffn);
            var tau = architecture.IsTransformer ? new PattentionTaus(0, 0, 0) : Tau(architecture, tokens, parent, growth);
            var training = raw.Train is { } t
                ? new TrainingPlan(Need(t.Tokens).Value, Need(t.LearningRate).Value, Need(t.Warmup).Value, Int(t.Batch))
                : null;
            var stage = new StagePlan(
                name,
                stages.Count,
                parent?.Name,
                parent?.Index,
                growth,
                layerGrowth,
                depth,
                ValueStd(depth),
                tokens,
                tau,
                ModelSize.Parameters(vocabulary.Padded, depth, hidden, blockParameters),
                ModelSize.ForwardFlopsPerToken(vocabulary.Padded, depth, hidden, blockParameters, context),
                ModelSize.TrainingFlopsPerToken(vocabulary.Padded, depth, hidden, blockParameters, context),
                training);
            indexByName.Add(name, stage.Index);
            stages.Add(stage);

            if (parent is not null)
            {
                edges.Add(new GrowthEdgePlan(
                    parent.Name,
                    name,
                    parent.Index,
                    stage.Index,
                    growth ?? GrowthPolicy.ZeroKeys,
                    layerGrowth,
                    parent.Layers,
                    depth,
                    parent.Tokens,
                    tokens,
                    parent.Tau,
                    tau,
                    GrowthPolicies.All.Select(policy => new PolicyChange(policy, Change(architecture.Norm, policy, parent, stage))).ToEquatableArray()));
            }
        }

        return new FamilyPlan(
            Need(spec.Family).Value,
            Need(spec.Namespace).Value,
            origin,
            FileName(path),
            Need(spec.Tokenizer).Value,
            vocabulary,
            context,
            architecture,
            stages.ToEquatableArray(),
            edges.ToEquatableArray(),
            text,
            Sha256Hex(text));
    }

    /// <summary>
    /// τ per Pattention kind. <c>sqrt_n</c>: √n of the stage's own count. <c>fixed</c>: a root stage takes √n of
    /// <c>tau_tokens</c> where given, else of its own count; a stage grown with zero_keys keeps its parent's τ (so the
    /// grown model computes the same function); one grown with random takes √n of its own count.
    /// </summary>
    public static PattentionTaus Tau(ArchitecturePlan architecture, PattentionCounts tokens, StagePlan? parent, GrowthPolicy? growth)
    {
        if (architecture.TauPolicy == TauPolicy.Fixed && parent is not null && growth?.ZeroesNewKeys() == true) return parent.Tau;
        var counts = architecture.TauPolicy == TauPolicy.Fixed && parent is null ? architecture.TauTokens ?? tokens : tokens;
        return new PattentionTaus(Math.Sqrt(counts.Qkv), Math.Sqrt(counts.Proj), Math.Sqrt(counts.Ffn));
    }

    /// <summary>
    /// What growing <paramref name="from"/> into <paramref name="to"/> with <paramref name="policy"/> does to the
    /// function. τ of both stages is fixed by the spec, whatever policy runs, so a policy the spec did not choose
    /// may meet a τ that changed (tau: fixed with growth: random resets τ to √n).
    /// </summary>
    public static FunctionChange Change(PattentionNorm norm, GrowthPolicy policy, StagePlan from, StagePlan to)
        => FunctionPreservation.Of(norm, policy, grows: to.Tokens != from.Tokens, tauChanges: to.Tau != from.Tau, stacks: to.LayerGrowth == LayerGrowth.Stack);

    public static string Sha256Hex(string text)
    {
        using var sha = SHA256.Create();
        var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(text));
        return string.Concat(hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static string FileName(string path)
    {
        var slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        return slash >= 0 ? path.Substring(slash + 1) : path;
    }

    private static int Int(Located<long>? value) => checked((int)Need(value).Value);

    private static T Need<T>(T? value)
        where T : class
        => value ?? throw new InvalidOperationException("The planner met a value the validator should have required.");

    private static Located<T> Need<T>(Located<T>? value)
        => value ?? throw new InvalidOperationException("The planner met a value the validator should have required.");
}
