// What the generator emits for one stage, written out by hand to pin the shape of generated code
// before the emitter prints it. Family "Sample", stage "Small": 2 layers, d 16, 2 heads, vocab 40.
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TorchSharp.Modules;

namespace TokenformerGen.Tests.Modules;

/// <summary>Sample / Small: 2 layers, d = 16, 2 heads; Pattention tokens qkv 8, proj 8, ffn 32.</summary>
public sealed class SampleSmall : TokenformerModel
{
    public static readonly StageInfo Info = new(
        "Sample", "Small",
        new ArchitectureInfo(Vocabulary: 40, PaddedVocabulary: 48, Context: 32, Layers: 2, Hidden: 16, Heads: 2,
                             RotaryFraction: 0.25, RotaryBase: 10000, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed,
                             Epsilon: 0, KeyStd: 0.02, ValueStd: 0.0625, EmbeddingStd: 0.02, TokenizerKind.Byte),
        new PattentionSizes<long>(8, 8, 32), new PattentionSizes<double>(2.8284271247461903, 2.8284271247461903, 5.656854249492381),
        new TrainingBudget(10_000, 1e-3, 0.01, 4), GrownFrom: null, Growth: null, SpecHash: "test");

    private readonly Embedding word_embeddings;
    private readonly ModuleList<Block> layers;
    private readonly LayerNorm final_norm;

    public SampleSmall() : base(nameof(SampleSmall))
    {
        word_embeddings = nn.Embedding(48, 16);
        layers = nn.ModuleList(Enumerable.Range(0, 2).Select(i => new Block($"layers.{i}")).ToArray());
        final_norm = nn.LayerNorm(16, LayerNorms.Epsilon);
        RegisterComponents();
    }

    public override StageInfo Stage => Info;
    public Embedding WordEmbeddings => word_embeddings;
    public ModuleList<Block> Layers => layers;
    public LayerNorm FinalNorm => final_norm;

    public override Tensor Forward(Tensor tokens, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = word_embeddings.forward(tokens);
        for (var i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cache?[i]);
        return matmul(final_norm.forward(h), word_embeddings.weight!.t()).MoveToOuterDisposeScope();
    }

    public sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly SelfAttention attention;
        private readonly Pattention mlp;

        public Block(string name) : base(name)
        {
            attention = new SelfAttention("attention");
            mlp = new Pattention(16, 32, 16, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed, 5.656854249492381, 0, "mlp");
            RegisterComponents();
        }

        public SelfAttention Attention => attention;
        public Pattention Mlp => mlp;

        public Tensor Forward(Tensor x, LayerKvCache? cache)
        {
            using var scope = NewDisposeScope();
            var h = x + attention.Forward(LayerNorms.NonParametric(x), cache);
            return (h + mlp.forward(LayerNorms.NonParametric(h))).MoveToOuterDisposeScope();
        }

        public override Tensor forward(Tensor x) => Forward(x, null);
    }

    public sealed class SelfAttention : nn.Module<Tensor, Tensor>
    {
        private static readonly RotaryEmbedding Rotary = new(8, 0.25, 10000);
        private readonly Pattention query, key, value, proj;

        public SelfAttention(string name) : base(name)
        {
            query = new Pattention(16, 8, 16, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed, 2.8284271247461903, 0, "query");
            key = new Pattention(16, 8, 16, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed, 2.8284271247461903, 0, "key");
            value = new Pattention(16, 8, 16, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed, 2.8284271247461903, 0, "value");
            proj = new Pattention(16, 8, 16, PattentionNorm.L2NormGelu, TemperaturePolicy.Fixed, 2.8284271247461903, 0, "proj");
            RegisterComponents();
        }

        public Pattention Query => query;

        public Tensor Forward(Tensor x, LayerKvCache? cache)
        {
            using var scope = NewDisposeScope();
            var attended = global::TokenformerGen.Primitives.Attention.CausalSelfAttention(query.forward(x), key.forward(x), value.forward(x), 2, Rotary, cache);
            return proj.forward(attended).MoveToOuterDisposeScope();
        }

        public override Tensor forward(Tensor x) => Forward(x, null);
    }
}
