using System.Collections.Generic;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Growth;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// Emits <c>{Family}.{From}To{To}.g.cs</c> for a growth edge: the expansion map (every parameter,
/// its shape in both stages, the axis that grows, the rows kept and how new rows start) and the
/// checkpoint-to-checkpoint migration that streams tensors along it.
/// </summary>
internal static class EdgeEmitter
{
    public static string HintName(FamilyPlan plan, GrowthEdgePlan edge) => $"{plan.Name}.{edge.From}To{edge.To}.g.cs";

    public static string ClassName(FamilyPlan plan, GrowthEdgePlan edge) => $"{plan.Name}{edge.From}To{edge.To}";

    public static string Emit(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var from = plan.Name + edge.From;
        var to = plan.Name + edge.To;
        var w = new SourceWriter();
        GeneratedCode.Header(w, plan);
        w.WriteLine($"namespace {plan.Namespace}");
        w.OpenBlock();
        RuntimeNames.WriteAliases(w, "ExpansionMap", "ParameterExpansion", "NewRowInit", "Migration", "GrowthOptions", "CheckpointMetadata");
        GeneratedCode.Doc(w, $"Growth of <c>{plan.Name}</c> from <see cref=\"{from}\"/> to <see cref=\"{to}\"/> with <c>{Choices.Name(edge.Policy)}</c>: qkv {edge.FromTokens.Qkv} → {edge.ToTokens.Qkv}, proj {edge.FromTokens.Proj} → {edge.ToTokens.Proj}, ffn {edge.FromTokens.Ffn} → {edge.ToTokens.Ffn} tokens; {(edge.PreservesFunction ? "the grown model computes exactly what the trained one did" : "the function changes at growth")}.");
        GeneratedCode.Attribute(w);
        w.WriteLine($"public static class {ClassName(plan, edge)}");
        w.OpenBlock();
        GeneratedCode.Doc(w, "Every parameter of the target stage, in state-dict order: shapes, grow axis, rows kept, init of new rows.");
        w.WriteLine($"public static ExpansionMap Map {{ get; }} = new({from}.Info, {to}.Info, new ParameterExpansion[]");
        w.OpenBlock();
        foreach (var row in Rows(plan, edge)) w.WriteLine(row + ",");
        w.CloseBlock(");");
        w.WriteLine();
        GeneratedCode.Doc(w, $"Writes a <see cref=\"{to}\"/> checkpoint grown from the <see cref=\"{from}\"/> checkpoint <paramref name=\"source\"/>, one tensor at a time, refusing a checkpoint of another stage or with any parameter the map does not account for.");
        w.WriteLine($"public static CheckpointMetadata MigrateCheckpoint(string source, string target, GrowthOptions? options = null)");
        w.Indent();
        w.WriteLine("=> Migration.MigrateCheckpoint(Map, source, target, options);");
        w.Unindent();
        w.CloseBlock();
        w.CloseBlock();
        return w.ToString();
    }

    private static IEnumerable<string> Rows(FamilyPlan plan, GrowthEdgePlan edge)
    {
        var a = plan.Architecture;
        var d = a.Hidden;
        yield return Fixed("word_embeddings.weight", plan.Vocabulary.Padded, d);
        for (var i = 0; i < a.Layers; i++)
        {
            foreach (var name in new[] { "query", "key", "value" })
            {
                foreach (var row in Pattention(plan, edge, $"layers.{i}.attention.{name}", edge.FromTokens.Qkv, edge.ToTokens.Qkv)) yield return row;
            }

            foreach (var row in Pattention(plan, edge, $"layers.{i}.attention.proj", edge.FromTokens.Proj, edge.ToTokens.Proj)) yield return row;
            foreach (var row in Pattention(plan, edge, $"layers.{i}.mlp", edge.FromTokens.Ffn, edge.ToTokens.Ffn)) yield return row;
        }

        yield return Fixed("final_norm.weight", d);
        yield return Fixed("final_norm.bias", d);
    }

    private static IEnumerable<string> Pattention(FamilyPlan plan, GrowthEdgePlan edge, string prefix, int fromTokens, int toTokens)
    {
        var d = plan.Architecture.Hidden;
        if (fromTokens == toTokens)
        {
            yield return Fixed(prefix + ".key_param_tokens", toTokens, d);
            yield return Fixed(prefix + ".value_param_tokens", toTokens, d);
            yield break;
        }

        var init = plan.Architecture.Init;
        yield return edge.Policy == GrowthPolicy.ZeroKeys
            ? Grown(prefix + ".key_param_tokens", fromTokens, toTokens, d, "Zero", 0)
            : Grown(prefix + ".key_param_tokens", fromTokens, toTokens, d, "Random", init.KeyStd);
        yield return Grown(prefix + ".value_param_tokens", fromTokens, toTokens, d, "Random", init.ValueStd);
    }

    private static string Fixed(string name, params int[] shape)
        => $"new(\"{name}\", {Shape(shape)}, {Shape(shape)}, GrowAxis: null, KeptRows: {shape[0]}, NewRowInit.None, InitStd: 0.0)";

    private static string Grown(string name, int fromRows, int toRows, int width, string init, double std)
        => $"new(\"{name}\", {Shape(fromRows, width)}, {Shape(toRows, width)}, GrowAxis: 0, KeptRows: {fromRows}, NewRowInit.{init}, InitStd: {Literals.Double(std)})";

    private static string Shape(params int[] shape) => "new long[] { " + string.Join(", ", shape) + " }";
}
