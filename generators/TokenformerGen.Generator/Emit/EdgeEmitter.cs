using System.Collections.Generic;
using TokenformerGen.Architecture;
using TokenformerGen.Families;
using TokenformerGen.Declarations;
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
        GeneratedCode.Doc(w, $"Growth of <c>{plan.Name}</c> from <see cref=\"{from}\"/> to <see cref=\"{to}\"/>: qkv {edge.FromTokens.Qkv} → {edge.ToTokens.Qkv}, proj {edge.FromTokens.Proj} → {edge.ToTokens.Proj}, ffn {edge.FromTokens.Ffn} → {edge.ToTokens.Ffn} tokens. "
                             + $"The spec grows it with <c>{edge.Policy.SpecName()}</c>; {Consequence(GrowthPolicy.ZeroKeys, edge.WithZeroKeys)}; {Consequence(GrowthPolicy.Random, edge.WithRandom)}.");
        GeneratedCode.Attribute(w);
        w.WriteLine($"public static class {ClassName(plan, edge)}");
        w.OpenBlock();
        GeneratedCode.Doc(w, "Every parameter of the grown stage, in state-dict order: both shapes, the grow axis, the rows kept, and per policy how new rows are made.");
        w.WriteLine($"public static GrowthMap Map {{ get; }} = new({from}.Info, {to}.Info,");
        w.Indent();
        w.WriteLine($"PreservesFunction: new(ZeroKeys: {Literals.Boolean(edge.WithZeroKeys == FunctionChange.None)}, Random: {Literals.Boolean(edge.WithRandom == FunctionChange.None)}),");
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

    private static string Consequence(GrowthPolicy policy, FunctionChange change)
        => $"with <c>{policy.SpecName()}</c> " + change switch
        {
            FunctionChange.None => "the grown model computes exactly what the trained one did",
            FunctionChange.RandomKeys => "the function changes (random new keys contribute at once)",
            FunctionChange.SoftmaxMass => "the function changes (softmax gives zero keys weight)",
            _ => "the function changes (τ changes)",
        };

    private static IEnumerable<string> Rows(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var a = plan.Architecture;
        foreach (var parameter in ParameterNames.All(a.Layers))
        {
            switch (parameter.Role)
            {
                case ParameterRole.Embedding:
                    yield return Unchanged(parameter.Name, plan.Vocabulary.Padded, a.Hidden);
                    break;
                case ParameterRole.FinalNormWeight:
                case ParameterRole.FinalNormBias:
                    yield return Unchanged(parameter.Name, a.Hidden);
                    break;
                default:
                    var (fromTokens, toTokens) = Tokens(edge, parameter.Kind);
                    if (fromTokens == toTokens)
                        yield return Unchanged(parameter.Name, toTokens, a.Hidden);
                    else if (parameter.Role == ParameterRole.KeyTokens)
                        yield return Grown(parameter.Name, fromTokens, toTokens, a.Hidden, "NewRows.Zero", $"NewRows.Normal({Literals.Double(a.Init.KeyStd)})");
                    else
                        yield return Grown(parameter.Name, fromTokens, toTokens, a.Hidden, $"NewRows.Normal({Literals.Double(a.Init.ValueStd)})", $"NewRows.Normal({Literals.Double(a.Init.ValueStd)})");
                    break;
            }
        }
    }

    private static (int From, int To) Tokens(GrowthEdgePlan edge, PattentionKind kind) => kind switch
    {
        PattentionKind.Qkv => (edge.FromTokens.Qkv, edge.ToTokens.Qkv),
        PattentionKind.Proj => (edge.FromTokens.Proj, edge.ToTokens.Proj),
        _ => (edge.FromTokens.Ffn, edge.ToTokens.Ffn),
    };

    private static string Unchanged(string name, params int[] shape)
        => $"new(\"{name}\", {Shape(shape)}, {Shape(shape)}, GrowAxis: null, KeptRows: {shape[0]}, NewRows: new(ZeroKeys: NewRows.None, Random: NewRows.None))";

    private static string Grown(string name, int fromRows, int toRows, int width, string zeroKeys, string random)
        => $"new(\"{name}\", {Shape(fromRows, width)}, {Shape(toRows, width)}, GrowAxis: 0, KeptRows: {fromRows}, NewRows: new(ZeroKeys: {zeroKeys}, Random: {random}))";

    private static string Shape(params int[] shape) => "new long[] { " + string.Join(", ", shape) + " }";
}
