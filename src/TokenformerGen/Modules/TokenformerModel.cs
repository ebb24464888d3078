using TokenformerGen.Architecture;
using TokenformerGen.Families;
using TokenformerGen.Primitives;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Modules;

/// <summary>
/// The base of every generated stage model: token ids <c>[batch, T]</c> in, logits
/// <c>[batch, T, paddedVocab]</c> out. Generated subclasses spell the architecture out; this class
/// holds what every stage shares (initialisation, caches, introspection).
/// </summary>
public abstract class TokenformerModel : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module; subclasses register their components.</summary>
    protected TokenformerModel(string name) : base(name) { }

    /// <summary>The stage this model implements.</summary>
    public abstract StageInfo Stage { get; }

    /// <summary>Logits for <paramref name="tokens"/>, reusing and extending <paramref name="cache"/> when given.</summary>
    public abstract Tensor Forward(Tensor tokens, KvCache? cache);

    /// <summary>Logits for <paramref name="tokens"/> <c>[batch, T]</c>.</summary>
    public override Tensor forward(Tensor tokens) => Forward(tokens, null);

    /// <summary>An empty KV cache sized for this model.</summary>
    public KvCache CreateCache() => new((int)Stage.Architecture.Layers);

    /// <summary>Every Pattention with its state-dict prefix, in registration order.</summary>
    public IEnumerable<(string Name, Pattention Module)> Pattentions()
        => named_modules().Where(m => m.module is Pattention).Select(m => (m.name, (Pattention)m.module));

    /// <summary>
    /// From-scratch initialisation of the official recipe, reproducible from <paramref name="seed"/>:
    /// embedding and key tokens N(0, std²), value tokens N(0, valueStd²), final LayerNorm weight 1 and bias 0.
    /// </summary>
    public void InitializeFromScratch(long seed)
    {
        using var generator = new Generator((ulong)seed);
        var architecture = Stage.Architecture;
        using var _ = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            switch (ParameterNames.RoleOf(name))
            {
                case ParameterRole.Embedding: Initializers.Normal(parameter, architecture.EmbeddingStd, generator); break;
                case ParameterRole.KeyTokens: Initializers.Normal(parameter, architecture.KeyStd, generator); break;
                case ParameterRole.ValueTokens: Initializers.Normal(parameter, architecture.ValueStd, generator); break;
                case ParameterRole.FinalNormWeight: parameter.fill_(1); break;
                case ParameterRole.FinalNormBias: parameter.zero_(); break;
                default: throw new InvalidOperationException($"{name}: not a Tokenformer parameter name, so it has no from-scratch initialisation.");
            }
        }
    }

    /// <summary>Trainable parameters with their state-dict names, as plain tensors.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters()
        => named_parameters().Select(p => (p.name, (Tensor)p.parameter));

    /// <summary>Names and shapes of the state dict, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, long[]>> StateShapes()
        => state_dict().Select(p => new KeyValuePair<string, long[]>(p.Key, p.Value.shape)).ToList();
}
