using System.Collections.Generic;
using TokenformerGen.Families;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// The runtime types generated modules use, written once per file as using aliases inside the
/// namespace block, so the code below reads like hand-written TorchSharp.
/// </summary>
internal static class RuntimeNames
{
    private static readonly IReadOnlyList<(string Alias, string Type)> Aliases =
    [
        ("Torch", "global::TorchSharp.torch"),
        ("Tensor", "global::TorchSharp.torch.Tensor"),
        ("TokenEmbedding", "global::TokenformerGen.Primitives.TokenEmbedding"),
        ("AffineLayerNorm", "global::TokenformerGen.Primitives.AffineLayerNorm"),
        ("Pattention", "global::TokenformerGen.Primitives.Pattention"),
        ("Projection", "global::TokenformerGen.Primitives.Projection"),
        ("Activations", "global::TokenformerGen.Primitives.Activations"),
        ("PattentionNorm", "global::TokenformerGen.Primitives.PattentionNorm"),
        ("TauPolicy", "global::TokenformerGen.Primitives.TauPolicy"),
        ("RotaryEmbedding", "global::TokenformerGen.Primitives.RotaryEmbedding"),
        ("CausalAttention", "global::TokenformerGen.Primitives.Attention"),
        ("LayerNorms", "global::TokenformerGen.Primitives.LayerNorms"),
        ("KvCache", "global::TokenformerGen.Primitives.KvCache"),
        ("LayerKvCache", "global::TokenformerGen.Primitives.LayerKvCache"),
        ("OnnxValue", "global::TokenformerGen.Onnx.OnnxValue"),
        ("OnnxKvCache", "global::TokenformerGen.Onnx.OnnxKvCache"),
        ("OnnxLayerCache", "global::TokenformerGen.Onnx.OnnxLayerCache"),
        ("TokenformerModel", "global::TokenformerGen.Modules.TokenformerModel"),
        ("StageInfo", "global::TokenformerGen.Families.StageInfo"),
        ("TrainingBudget", "global::TokenformerGen.Families.TrainingBudget"),
        ("ArchitectureInfo", "global::TokenformerGen.Families.ArchitectureInfo"),
        ("TokenizerKind", "global::TokenformerGen.Text.Families.TokenizerKind"),
        ("FamilyRegistration", "global::TokenformerGen.Modules.FamilyRegistration"),
        ("StageRegistration", "global::TokenformerGen.Modules.StageRegistration"),
        ("ModelRegistry", "global::TokenformerGen.Modules.ModelRegistry"),
        ("GrowthMap", "global::TokenformerGen.Growth.GrowthMap"),
        ("GrowthRow", "global::TokenformerGen.Growth.GrowthRow"),
        ("NewRows", "global::TokenformerGen.Growth.NewRows"),
        ("StageGrowth", "global::TokenformerGen.Growth.StageGrowth"),
        ("GrowthOptions", "global::TokenformerGen.Growth.GrowthOptions"),
        ("GrowthPolicy", "global::TokenformerGen.Families.GrowthPolicy"),
        ("LayerGrowth", "global::TokenformerGen.Families.LayerGrowth"),
        ("BlockKind", "global::TokenformerGen.Families.BlockKind"),
        ("CheckpointMetadata", "global::TokenformerGen.Checkpoints.CheckpointMetadata"),
    ];

    /// <summary>Writes the aliases named in <paramref name="used"/>, in a fixed order.</summary>
    public static void WriteAliases(SourceWriter w, params string[] used)
    {
        var wanted = new HashSet<string>(used);
        foreach (var (alias, type) in Aliases)
        {
            if (wanted.Remove(alias)) w.WriteLine($"using {alias} = {type};");
        }

        if (wanted.Count > 0) throw new KeyNotFoundException("No runtime alias for " + string.Join(", ", wanted));
        w.WriteLine();
    }

    public static string Norm(PattentionNorm norm) => "PattentionNorm." + norm;

    public static string Tau(TauPolicy policy) => "TauPolicy." + policy;

    public static string Growth(GrowthPolicy policy) => "GrowthPolicy." + policy;

    public static string Growth(LayerGrowth growth) => "LayerGrowth." + growth;

    public static string Block(BlockKind block) => "BlockKind." + block;

    public static string Tokenizer(TokenizerKind kind) => "TokenizerKind." + kind;
}
