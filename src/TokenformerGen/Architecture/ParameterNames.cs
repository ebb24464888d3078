// Shared verbatim with the source generator (linked into generators/): the generated modules, their growth
// maps, the official checkpoint layout and from-scratch initialisation all name parameters through this one
// file. Keep it plain C# that compiles for netstandard2.0.
using System.Collections.Generic;

namespace TokenformerGen.Architecture
{
    /// <summary>What a parameter of a Tokenformer is, which decides how it is initialised and whether it grows.</summary>
    public enum ParameterRole
    {
        /// <summary>The token embedding <c>[vocab, d]</c>, also the tied LM head.</summary>
        Embedding,
        /// <summary>Key parameter tokens <c>[n, d_in]</c> of a Pattention: grow along axis 0.</summary>
        KeyTokens,
        /// <summary>Value parameter tokens <c>[n, d_out]</c> of a Pattention: grow along axis 0.</summary>
        ValueTokens,
        /// <summary>The weight <c>[d]</c> of the final affine LayerNorm.</summary>
        FinalNormWeight,
        /// <summary>The bias <c>[d]</c> of the final affine LayerNorm.</summary>
        FinalNormBias,
    }

    /// <summary>The three kinds of Pattention in a block, each with its own token count and τ.</summary>
    public enum PattentionKind
    {
        /// <summary>The query, key and value projections.</summary>
        Qkv,
        /// <summary>The attention output projection.</summary>
        Proj,
        /// <summary>The feed-forward network.</summary>
        Ffn,
    }

    /// <summary>One parameter of a Tokenformer: its state-dict name, its role and, for parameter tokens, its Pattention kind.</summary>
    public readonly struct NamedParameter
    {
        /// <summary>Describes one parameter.</summary>
        public NamedParameter(string name, ParameterRole role, PattentionKind kind)
        {
            Name = name;
            Role = role;
            Kind = kind;
        }

        /// <summary>The state-dict name, e.g. <c>layers.0.attention.query.key_param_tokens</c>.</summary>
        public string Name { get; }

        /// <summary>What the parameter is.</summary>
        public ParameterRole Role { get; }

        /// <summary>The Pattention kind of key and value tokens (<see cref="PattentionKind.Qkv"/> for the other roles, where it has no meaning).</summary>
        public PattentionKind Kind { get; }
    }

    /// <summary>
    /// The state-dict names of a Tokenformer, written once: the module tree is <c>word_embeddings</c>,
    /// <c>layers.{i}.attention.{query,key,value,proj}</c>, <c>layers.{i}.mlp</c> and <c>final_norm</c>, and every
    /// Pattention holds <c>key_param_tokens</c> and <c>value_param_tokens</c> (the official release's names).
    /// </summary>
    public static class ParameterNames
    {
        /// <summary>Field and state-dict name of the token embedding module.</summary>
        public const string EmbeddingModule = "word_embeddings";

        /// <summary>Field and state-dict name of the list of blocks.</summary>
        public const string LayersModule = "layers";

        /// <summary>Field and state-dict name of a block's self-attention.</summary>
        public const string AttentionModule = "attention";

        /// <summary>Field and state-dict name of a block's feed-forward Pattention.</summary>
        public const string FfnModule = "mlp";

        /// <summary>Field and state-dict name of the final affine LayerNorm.</summary>
        public const string FinalNormModule = "final_norm";

        /// <summary>The attention's Pattentions in model order: three of kind <see cref="PattentionKind.Qkv"/>, then the output projection.</summary>
        public static readonly IReadOnlyList<string> AttentionPattentions = new[] { "query", "key", "value", "proj" };

        /// <summary>Parameter name of a Pattention's key tokens.</summary>
        public const string KeyTokens = "key_param_tokens";

        /// <summary>Parameter name of a Pattention's value tokens.</summary>
        public const string ValueTokens = "value_param_tokens";

        /// <summary><c>word_embeddings.weight</c>.</summary>
        public const string Embedding = EmbeddingModule + ".weight";

        /// <summary><c>final_norm.weight</c>.</summary>
        public const string FinalNormWeight = FinalNormModule + ".weight";

        /// <summary><c>final_norm.bias</c>.</summary>
        public const string FinalNormBias = FinalNormModule + ".bias";

        /// <summary>The state-dict prefix of block <paramref name="layer"/>: <c>layers.{i}</c>.</summary>
        public static string Layer(int layer) => LayersModule + "." + layer.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>The Pattentions of one block relative to the block, in model order, with their kinds.</summary>
        public static IEnumerable<KeyValuePair<string, PattentionKind>> BlockPattentions()
        {
            foreach (var name in AttentionPattentions)
                yield return new KeyValuePair<string, PattentionKind>(AttentionModule + "." + name, name == "proj" ? PattentionKind.Proj : PattentionKind.Qkv);
            yield return new KeyValuePair<string, PattentionKind>(FfnModule, PattentionKind.Ffn);
        }

        /// <summary>Every parameter of a <paramref name="layers"/>-layer model, in state-dict order.</summary>
        public static IEnumerable<NamedParameter> All(int layers)
        {
            yield return new NamedParameter(Embedding, ParameterRole.Embedding, PattentionKind.Qkv);
            for (var i = 0; i < layers; i++)
            {
                foreach (var pattention in BlockPattentions())
                {
                    var prefix = Layer(i) + "." + pattention.Key + ".";
                    yield return new NamedParameter(prefix + KeyTokens, ParameterRole.KeyTokens, pattention.Value);
                    yield return new NamedParameter(prefix + ValueTokens, ParameterRole.ValueTokens, pattention.Value);
                }
            }
            yield return new NamedParameter(FinalNormWeight, ParameterRole.FinalNormWeight, PattentionKind.Qkv);
            yield return new NamedParameter(FinalNormBias, ParameterRole.FinalNormBias, PattentionKind.Qkv);
        }

        /// <summary>The role of a parameter named <paramref name="name"/>, or null for a name outside this scheme.</summary>
        public static ParameterRole? RoleOf(string name)
        {
            if (name == Embedding) return ParameterRole.Embedding;
            if (name == FinalNormWeight) return ParameterRole.FinalNormWeight;
            if (name == FinalNormBias) return ParameterRole.FinalNormBias;
            if (!name.StartsWith(LayersModule + ".", System.StringComparison.Ordinal)) return null;
            if (name.EndsWith("." + KeyTokens, System.StringComparison.Ordinal)) return ParameterRole.KeyTokens;
            if (name.EndsWith("." + ValueTokens, System.StringComparison.Ordinal)) return ParameterRole.ValueTokens;
            return null;
        }
    }
}
