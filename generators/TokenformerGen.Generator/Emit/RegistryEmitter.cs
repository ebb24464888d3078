using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Generator.Planning;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// Emits <c>{Family}.Registry.g.cs</c>: the family's runtime description (its architecture and
/// registration) and a module initializer that adds it to <c>ModelRegistry</c>, so hosts can list
/// and instantiate every stage by name.
/// </summary>
internal static class RegistryEmitter
{
    public static string HintName(FamilyPlan plan) => GeneratedNames.RegistryHintName(plan.Name);

    public static string Emit(FamilyPlan plan)
    {
        var a = plan.Architecture;
        var w = new SourceWriter();
        GeneratedCode.Header(w, plan);
        w.WriteLine($"namespace {plan.Namespace}");
        w.OpenBlock();
        var aliases = new List<string> { "PattentionNorm", "TauPolicy", "ArchitectureInfo", "TokenizerKind", "FamilyRegistration", "StageRegistration", "ModelRegistry", "GrowthMap" };
        if (a.IsTransformer) aliases.Add("BlockKind");
        RuntimeNames.WriteAliases(w, aliases.ToArray());
        GeneratedCode.FamilyClass(w, plan, attribute: false);
        w.OpenBlock();
        GeneratedCode.Doc(w, "The fixed dimensions and choices of every stage, as the runtime reads them.");
        w.WriteLine($"public static ArchitectureInfo Architecture {{ get; }} = new(");
        w.Indent();
        w.WriteLine($"Vocabulary: VocabularySize, PaddedVocabulary: PaddedVocabularySize, Context: Context, Layers: Layers, Hidden: Hidden, Heads: Heads,");
        w.WriteLine($"RotaryFraction: RotaryFraction, RotaryBase: RotaryBase, {RuntimeNames.Norm(a.Norm)}, {RuntimeNames.Tau(a.TauPolicy)},");
        w.WriteLine($"Epsilon: Epsilon, KeyStd: KeyInitStd, ValueStd: ValueInitStd, EmbeddingStd: EmbeddingInitStd, {RuntimeNames.Tokenizer(plan.Tokenizer)}{(a.IsTransformer ? "," : ");")}");
        if (a.IsTransformer) w.WriteLine($"{RuntimeNames.Block(a.Block)}, MlpHidden: MlpHidden);");
        w.Unindent();
        w.WriteLine();
        GeneratedCode.Doc(w, "The family as hosts see it: stages with factories, and the growth map of every edge.");
        w.WriteLine($"public static FamilyRegistration Registration {{ get; }} = new(Name, SpecSha256, SpecText,");
        w.Indent();
        w.WriteLine($"new StageRegistration[]");
        w.OpenBlock();
        foreach (var stage in plan.Stages)
        {
            var model = ModelEmitter.ClassName(plan, stage);
            w.WriteLine($"new({model}.Info, static () => new {model}()),");
        }

        w.CloseBlock(",");
        w.WriteLine(plan.Edges.Count == 0
            ? $"global::System.Array.Empty<GrowthMap>());"
            : $"new GrowthMap[] {{ {string.Join(", ", plan.Edges.Select(e => EdgeEmitter.ClassName(plan, e) + ".Map"))} }});");
        w.Unindent();
        w.WriteLine();
        GeneratedCode.Doc(w, "Adds the family to the registry when the assembly loads.");
        w.WriteLine("[global::System.Runtime.CompilerServices.ModuleInitializer]");
        w.WriteLine($"internal static void Register() => ModelRegistry.Register(Registration);");
        w.CloseBlock();
        w.CloseBlock();
        return w.ToString();
    }
}
