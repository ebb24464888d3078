// Shared verbatim with the source generator (linked into generators/): the generated modules, their growth
// maps, the official checkpoint layout and from-scratch initialisation all name parameters through this one
// file. Keep it plain C# that compiles for netstandard2.0.
using System.Collections.Generic;
using TokenformerGen.Families;

namespace TokenformerGen.Architecture
{
    /// <summary>What a parameter of a model is, which decides how it is initialised and whether it grows.</summary>
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
        /// <summary>
        /// The weight <c>[d_out, d_in]</c> of a Transformer block's projection that reads the block's input: q, k, v and the
        /// MLP's up-projection (GPT-NeoX's <c>init_method</c>, N(0, key_std²)).
        /// </summary>
        InputWeight,
        /// <summary>
        /// The weight of a Transformer block's projection that writes the residual stream: the attention output and the
        /// MLP's down-projection (GPT-NeoX's <c>output_layer_init_method</c>, Wang: N(0, value std²)).
        /// </summary>
        OutputWeight,
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

    /// <summary>One parameter of a model: its state-dict name, its role, its block and, for parameter tokens, its Pattention kind.</summary>
    public readonly struct NamedParameter
    {
        /// <summary>Describes one parameter; <paramref name="layer"/> is -1 outside the blocks.</summary>
        public NamedParameter(string name, ParameterRole role, PattentionKind kind, int layer = -1, string inBlock = "", bool writesResidual = false)
        {
            Name = name;
            Role = role;
            Kind = kind;
            Layer = layer;
            InBlock = inBlock;
            WritesResidual = writesResidual;
        }

        /// <summary>The state-dict name, e.g. <c>layers.0.attention.query.key_param_tokens</c>.</summary>
        public string Name { get; }

        /// <summary>What the parameter is.</summary>
        public ParameterRole Role { get; }

        /// <summary>The Pattention kind of key and value tokens, or of the Pattention a Transformer weight stands in for (<see cref="PattentionKind.Ffn"/> for both MLP weights); <see cref="PattentionKind.Qkv"/> outside the blocks, where it has no meaning.</summary>
        public PattentionKind Kind { get; }

        /// <summary>The block the parameter belongs to, or -1 (embedding, final norm).</summary>
        public int Layer { get; }

        /// <summary>The name inside its block (<c>attention.query.key_param_tokens</c>); empty outside the blocks.</summary>
        public string InBlock { get; }

        /// <summary>
        /// Whether it is an output weight of its block — what the block adds to the residual stream is linear in it (a
        /// Transformer's output projection and MLP down-projection, a Tokenformer's value tokens of proj and FFN), so a
        /// block whose output weights are zero adds nothing.
        /// </summary>
        public bool WritesResidual { get; }
    }

    /// <summary>
    /// The state-dict names of both block kinds, written once: the module tree is <c>word_embeddings</c>,
    /// <c>layers.{i}.attention.{query,key,value,proj}</c>, <c>layers.{i}.mlp</c> and <c>final_norm</c>. In a Tokenformer
    /// every Pattention holds <c>key_param_tokens</c> and <c>value_param_tokens</c> (the official release's names); in a
    /// Transformer every projection holds a <c>weight</c> <c>[d_out, d_in]</c> and the MLP is <c>mlp.up</c> and <c>mlp.down</c>.
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

        /// <summary>Parameter name of a Transformer projection's weight.</summary>
        public const string Weight = "weight";

        /// <summary>Field and state-dict name of a Transformer MLP's up-projection (d → mlp_hidden).</summary>
        public const string MlpUp = "up";

        /// <summary>Field and state-dict name of a Transformer MLP's down-projection (mlp_hidden → d).</summary>
        public const string MlpDown = "down";

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

        /// <summary>Every parameter of one block relative to the block, in state-dict order.</summary>
        public static IEnumerable<NamedParameter> Block(BlockKind block)
        {
            foreach (var pattention in BlockPattentions())
                foreach (var parameter in block == BlockKind.Transformer ? WeightsFor(pattention.Key, pattention.Value) : TokensOf(pattention.Key, pattention.Value))
                    yield return parameter;
        }

        // A Pattention's key and value tokens; the values of the output projection and the FFN write the residual stream.
        private static IEnumerable<NamedParameter> TokensOf(string module, PattentionKind kind)
        {
            yield return new NamedParameter(module + "." + KeyTokens, ParameterRole.KeyTokens, kind);
            yield return new NamedParameter(module + "." + ValueTokens, ParameterRole.ValueTokens, kind, writesResidual: kind != PattentionKind.Qkv);
        }

        // The Transformer weights that take a Pattention's place, of its kind (the FFN's two: up and down); the output side
        // writes the residual stream.
        private static IEnumerable<NamedParameter> WeightsFor(string module, PattentionKind kind)
        {
            if (kind == PattentionKind.Ffn)
            {
                yield return new NamedParameter(module + "." + MlpUp + "." + Weight, ParameterRole.InputWeight, kind);
                yield return new NamedParameter(module + "." + MlpDown + "." + Weight, ParameterRole.OutputWeight, kind, writesResidual: true);
                yield break;
            }
            var output = kind == PattentionKind.Proj;
            yield return new NamedParameter(module + "." + Weight, output ? ParameterRole.OutputWeight : ParameterRole.InputWeight, kind, writesResidual: output);
        }

        /// <summary>Every parameter of a <paramref name="layers"/>-layer model of <paramref name="block"/>s, in state-dict order.</summary>
        public static IEnumerable<NamedParameter> All(int layers, BlockKind block = BlockKind.Tokenformer)
        {
            yield return new NamedParameter(Embedding, ParameterRole.Embedding, PattentionKind.Qkv);
            for (var i = 0; i < layers; i++)
            {
                foreach (var parameter in Block(block))
                    yield return new NamedParameter(Layer(i) + "." + parameter.Name, parameter.Role, parameter.Kind, i, parameter.Name, parameter.WritesResidual);
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
            // layers.{i}.<name in the block>: the role the block's own list gives it (Block, the one place roles are stated).
            var prefix = LayersModule + ".";
            if (!name.StartsWith(prefix, System.StringComparison.Ordinal)) return null;
            var dot = name.IndexOf('.', prefix.Length);
            return dot > prefix.Length && BlockRoles.TryGetValue(name.Substring(dot + 1), out var role) ? role : (ParameterRole?)null;
        }

        private static readonly Dictionary<string, ParameterRole> BlockRoles = BuildBlockRoles();

        private static Dictionary<string, ParameterRole> BuildBlockRoles()
        {
            var roles = new Dictionary<string, ParameterRole>(System.StringComparer.Ordinal);
            foreach (var block in new[] { BlockKind.Tokenformer, BlockKind.Transformer })
                foreach (var parameter in Block(block)) roles[parameter.Name] = parameter.Role;
            return roles;
        }
    }
}
