using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Architecture;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Planning;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// Emits <c>{Family}.{From}To{To}.g.cs</c> for a growth edge: the growth map (every parameter, its shape in
/// both stages, the axis that grows, the rows kept and, per policy, how new rows are made; per policy,
/// whether the function is kept) and the checkpoint-to-checkpoint growth that streams along it. The runtime
/// executes these rows as they are written here.
/// </summary>
internal static class EdgeEmitter
{
    public static string HintName(FamilyPlan plan, GrowthEdgePlan edge) => GeneratedNames.EdgeHintName(plan.Name, edge.From, edge.To);

    public static string ClassName(FamilyPlan plan, GrowthEdgePlan edge) => GeneratedNames.EdgeClass(plan.Name, edge.From, edge.To);

    public static string Emit(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var from = GeneratedNames.StageClass(plan.Name, edge.From);
        var to = GeneratedNames.StageClass(plan.Name, edge.To);
        var w = new SourceWriter();
        GeneratedCode.Header(w, plan);
        w.WriteLine($"namespace {plan.Namespace}");
        w.OpenBlock();
        RuntimeNames.WriteAliases(w, "GrowthMap", "GrowthRow", "NewRows", "StageGrowth", "GrowthOptions", "CheckpointMetadata");
        GeneratedCode.Doc(w, $"Growth of <c>{plan.Name}</c> from <see cref=\"{from}\"/> to <see cref=\"{to}\"/>: {What(plan, edge)}. " + Consequences(plan, edge));
        GeneratedCode.Attribute(w);
        w.WriteLine($"public static class {ClassName(plan, edge)}");
        w.OpenBlock();
        GeneratedCode.Doc(w, "Every parameter of the grown stage, in state-dict order: both shapes, the grow axis, the rows kept, and per policy how new rows are made.");
        w.WriteLine($"public static GrowthMap Map {{ get; }} = new({from}.Info, {to}.Info,");
        w.Indent();
        w.WriteLine($"PreservesFunction: {PerPolicy(policy => Literals.Boolean(edge.With(policy) == FunctionChange.None))},");
        w.WriteLine("Rows: new GrowthRow[]");
        w.OpenBlock();
        foreach (var row in Rows(plan, edge)) w.WriteLine(row + ",");
        w.CloseBlock(");");
        w.Unindent();
        w.WriteLine();
        GeneratedCode.Doc(w, $"Writes a <see cref=\"{to}\"/> checkpoint grown from the <see cref=\"{from}\"/> checkpoint <paramref name=\"source\"/> along <see cref=\"Map\"/>, streaming: no tensor is held whole. Refuses a checkpoint of another stage or with any parameter the map does not account for.");
        w.WriteLine("public static CheckpointMetadata GrowCheckpoint(string source, string target, GrowthOptions? options = null)");
        w.Indent();
        w.WriteLine("=> StageGrowth.GrowCheckpoint(Map, source, target, options);");
        w.Unindent();
        w.CloseBlock();
        w.CloseBlock();
        return w.ToString();
    }

    /// <summary>How the edge grows, as the generated <c>GrowFrom</c> says it: <c>policy &lt;c&gt;zero_keys&lt;/c&gt; unless …</c>.</summary>
    public static string Growth(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var blocks = edge.LayerGrowth is { } layers ? $"new blocks <c>{layers.SpecName()}</c>" : null;
        if (plan.Architecture.IsTransformer) return blocks ?? "nothing grows";
        var tokens = $"policy <c>{edge.Policy.SpecName()}</c> unless <paramref name=\"options\"/> say otherwise";
        return blocks is null ? tokens : tokens + "; " + blocks;
    }

    // What grows: token counts and depth.
    private static string What(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var tokens = $"qkv {edge.FromTokens.Qkv} → {edge.ToTokens.Qkv}, proj {edge.FromTokens.Proj} → {edge.ToTokens.Proj}, ffn {edge.FromTokens.Ffn} → {edge.ToTokens.Ffn} tokens";
        var layers = edge.LayerGrowth is { } growth
            ? $"{edge.FromLayers} → {edge.ToLayers} blocks, the new ones {(growth == LayerGrowth.Stack ? $"copies of block i mod {edge.FromLayers} (stack)" : "with zero output weights (identity)")}"
            : null;
        if (plan.Architecture.IsTransformer) return layers ?? $"{edge.ToLayers} blocks, copied";
        return layers is null ? tokens : tokens + "; " + layers;
    }

    private static string Consequences(FamilyPlan plan, GrowthEdgePlan edge)
    {
        if (plan.Architecture.IsTransformer)
            return edge.With(edge.Policy) is var change && change == FunctionChange.None ? "The grown model computes exactly what the trained one did." : $"The function changes ({Why(change)}).";
        var policy = edge.LayerGrowth is null ? $"<c>{edge.Policy.SpecName()}</c>" : $"<c>{edge.Policy.SpecName()}</c> for tokens";
        return $"The spec grows it with {policy}; {string.Join("; ", GrowthPolicies.All.Select(p => Consequence(p, edge.With(p))))}.";
    }

    private static string Consequence(GrowthPolicy policy, FunctionChange change)
        => $"with <c>{policy.SpecName()}</c> " + (change == FunctionChange.None ? "the grown model computes exactly what the trained one did" : $"the function changes ({Why(change)})");

    private static string Why(FunctionChange change) => change switch
    {
        FunctionChange.RandomKeys => "random new keys contribute at once",
        FunctionChange.SoftmaxMass => "softmax gives zero keys weight",
        FunctionChange.StackedLayers => "stacked blocks add their output again",
        _ => "τ changes",
    };

    private static IEnumerable<string> Rows(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var a = plan.Architecture;
        foreach (var parameter in ParameterNames.All(edge.ToLayers, a.Block))
        {
            if (parameter.Layer >= edge.FromLayers)
            {
                yield return NewBlockRow(plan, edge, parameter);
                continue;
            }

            switch (parameter.Role)
            {
                case ParameterRole.Embedding:
                    yield return Unchanged(parameter.Name, plan.Vocabulary.Padded, a.Hidden);
                    break;
                case ParameterRole.FinalNormWeight:
                case ParameterRole.FinalNormBias:
                    yield return Unchanged(parameter.Name, a.Hidden);
                    break;
                case ParameterRole.InputWeight:
                case ParameterRole.OutputWeight:
                    yield return Unchanged(parameter.Name, WeightShape(a, parameter));
                    break;
                default:
                    yield return TokenRow(plan, edge, parameter.Name, parameter);
                    break;
            }
        }
    }

    // A parameter of a block the parent had, or of a stacked copy of one (source: its name in block i mod L).
    private static string TokenRow(FamilyPlan plan, GrowthEdgePlan edge, string source, NamedParameter parameter)
    {
        var a = plan.Architecture;
        var (fromTokens, toTokens) = Tokens(edge, parameter.Kind);
        if (fromTokens == toTokens)
            return Unchanged(parameter.Name, source, toTokens, a.Hidden);
        var keys = parameter.Role == ParameterRole.KeyTokens;
        var values = Normal(ValueStd(plan, edge));
        return Grown(parameter.Name, source, fromTokens, toTokens, a.Hidden,
                     PerPolicy(policy => !keys ? values : policy.ZeroesNewKeys() ? "NewRows.Zero" : Normal(a.Init.KeyStd)));
    }

    // A block the parent did not have: stack copies block i mod L (its tokens grown as that block's are); identity
    // starts it from scratch with zero output weights, the same under both token policies.
    private static string NewBlockRow(FamilyPlan plan, GrowthEdgePlan edge, NamedParameter parameter)
    {
        var a = plan.Architecture;
        if (edge.LayerGrowth == LayerGrowth.Stack)
        {
            var source = ParameterNames.Layer(parameter.Layer % edge.FromLayers) + "." + parameter.InBlock;
            return a.IsTransformer ? Unchanged(parameter.Name, source, WeightShape(a, parameter)) : TokenRow(plan, edge, source, parameter);
        }

        var init = parameter.WritesResidual ? "NewRows.Zero"
            : parameter.Role is ParameterRole.KeyTokens or ParameterRole.InputWeight ? Normal(a.Init.KeyStd)
            : Normal(ValueStd(plan, edge));
        var shape = a.IsTransformer ? WeightShape(a, parameter) : new[] { Tokens(edge, parameter.Kind).To, a.Hidden };
        return $"new(\"{parameter.Name}\", new long[0], {Shape(shape)}, GrowAxis: 0, KeptRows: 0, NewRows: {PerPolicy(_ => init)})";
    }

    // New value rows are drawn like the grown stage's from-scratch values (Wang's std follows its depth).
    private static double ValueStd(FamilyPlan plan, GrowthEdgePlan edge) => plan.Stages[edge.ToIndex].ValueStd;

    private static string Normal(double std) => $"NewRows.Normal({Literals.Double(std)})";

    // A Transformer weight is [out, in]: the MLP's hidden width on its inner side, the model width everywhere else.
    private static int[] WeightShape(ArchitecturePlan a, NamedParameter parameter)
        => parameter.Kind != PattentionKind.Ffn ? new[] { a.Hidden, a.Hidden }
         : parameter.Role == ParameterRole.InputWeight ? new[] { a.MlpHidden, a.Hidden }
         : new[] { a.Hidden, a.MlpHidden };

    private static (int From, int To) Tokens(GrowthEdgePlan edge, PattentionKind kind) => kind switch
    {
        PattentionKind.Qkv => (edge.FromTokens.Qkv, edge.ToTokens.Qkv),
        PattentionKind.Proj => (edge.FromTokens.Proj, edge.ToTokens.Proj),
        _ => (edge.FromTokens.Ffn, edge.ToTokens.Ffn),
    };

    private static string Unchanged(string name, params int[] shape) => Unchanged(name, name, shape);

    private static string Unchanged(string name, string source, params int[] shape)
        => $"new(\"{name}\", {Shape(shape)}, {Shape(shape)}, GrowAxis: null, KeptRows: {shape[0]}{From(name, source)})";

    private static string Grown(string name, string source, int fromRows, int toRows, int width, string newRows)
        => $"new(\"{name}\", {Shape(fromRows, width)}, {Shape(toRows, width)}, GrowAxis: 0, KeptRows: {fromRows}, NewRows: {newRows}{From(name, source)})";

    // One value per policy, in the order the runtime's PerPolicy reads them, each named: new(/* zero_keys */ …, /* random */ …).
    private static string PerPolicy(System.Func<GrowthPolicy, string> value)
        => "new(" + string.Join(", ", GrowthPolicies.All.Select(p => $"/* {p.SpecName()} */ {value(p)}")) + ")";

    private static string From(string name, string source) => source == name ? "" : $", Source: \"{source}\"";

    private static string Shape(params int[] shape) => "new long[] { " + string.Join(", ", shape) + " }";
}
