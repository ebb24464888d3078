using TokenformerGen.Architecture;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Onnx;
using TokenformerGen.Primitives;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Modules;

/// <summary>
/// The base of every generated stage model: token ids <c>[batch, T]</c> and an optional KV cache in,
/// logits <c>[batch, T, paddedVocab]</c> out. Generated subclasses spell the architecture out in their
/// one <c>forward(tokens, cache)</c>; this class holds what every stage shares (initialisation, caches,
/// introspection).
/// </summary>
/// <remarks>
/// Invoke a model with <c>call</c>, as every generated module invokes its children, so forward hooks
/// registered on it or on any submodule run: <c>model.call(tokens)</c> to train or evaluate,
/// <c>model.call(tokens, cache)</c> to decode with a cache from <see cref="CreateCache"/>. A model is created on the
/// CPU in float32; <see cref="Place"/> moves it to a device and precision before an optimizer is made for it. Token ids
/// must be on the model's <see cref="Device"/>; logits come back there in float32 in every precision.
/// </remarks>
public abstract class TokenformerModel : nn.Module<Tensor, KvCache?, Tensor>
{
    // Every process that builds a model trains or runs one: let it reuse freed host blocks (see HostMemory).
    static TokenformerModel() => HostMemory.ReuseFreedBlocks();

    /// <summary>Creates the module; subclasses register their components.</summary>
    protected TokenformerModel(string name) : base(name) { }

    /// <summary>The stage as its spec declares it (generated code returns the stage's <c>Info</c>).</summary>
    protected abstract StageInfo DeclaredStage { get; }

    // The stage with √n τ of its own counts once UseOwnTau replaced a borrowed τ (made once: samplers read Stage per call).
    private StageInfo? _ownTauStage;

    /// <summary>The stage this model implements: its declared stage, with √n τ of its own counts after <see cref="UseOwnTau"/>.</summary>
    public StageInfo Stage => _ownTauStage ?? DeclaredStage;

    /// <summary>
    /// Whether <see cref="UseOwnTau"/> replaced a τ its stage borrows (<see cref="StageInfo.HasBorrowedTau"/>) with √n of
    /// its own counts. Checkpoints record it (<see cref="Checkpoints.CheckpointMetadata.OwnTau"/>), and loading one sets it.
    /// </summary>
    public bool HasOwnTau => _ownTauStage is not null;

    /// <summary>
    /// Makes every Pattention divide by √n of its own token count, as a model of the stage's counts trained on its own
    /// would, instead of the τ the stage keeps from its root under <c>tau: fixed</c>: how a stage trains from scratch as a
    /// reference, so that it is not handicapped (or helped) by another stage's τ. Nothing changes for a stage without a
    /// borrowed τ. Call it before training or loading; a model that uses its own τ cannot be grown, since its function
    /// is not the one its child's τ continues.
    /// </summary>
    public TokenformerModel UseOwnTau()
    {
        if (HasOwnTau || !DeclaredStage.HasBorrowedTau) return this;
        foreach (var (_, pattention) in Pattentions()) pattention.UseOwnTau();
        _ownTauStage = DeclaredStage.WithOwnTau();
        return this;
    }

    /// <summary>Logits for <paramref name="tokens"/> <c>[batch, T]</c> without a cache, running the forward hooks: <c>call(tokens, null)</c>.</summary>
    public Tensor call(Tensor tokens) => call(tokens, null);

    /// <summary>
    /// The forward as ONNX nodes, for <see cref="OnnxExport"/>: float32 logits <c>[batch, T, paddedVocab]</c> for token ids
    /// <c>[batch, T]</c> that follow the positions cached in <paramref name="cache"/>, which receives each layer's keys and
    /// values. Generated stages spell it out next to their forward, call for call.
    /// </summary>
    public abstract OnnxValue ToOnnx(OnnxValue tokens, OnnxKvCache cache);

    /// <summary>The device of the parameters (and of everything the model computes).</summary>
    public Device Device => parameters().First().device;

    /// <summary>What the forward and backward passes compute in (the parameters stay float32).</summary>
    public Precision Precision { get; private set; } = Precision.Fp32;

    /// <summary>
    /// Moves the parameters to <paramref name="target"/>'s device, one tensor at a time, and makes every Pattention and the
    /// head compute in its precision (<see cref="Precision.Fp32"/>: the parameters' own type). Place a model before an
    /// optimizer is made for it: moving replaces the parameter tensors.
    /// </summary>
    public TokenformerModel Place(ComputeTarget target)
    {
        RequireMasterWeights("placed again (place it before preparing it)");
        this.to(target.Device);
        ScalarType? computeType = target.Precision == Precision.Fp32 ? null : target.ComputeType;
        foreach (var module in modules())
        {
            if (module is MixedPrecisionProjection projection) projection.ComputeType = computeType;
            else if (module is TokenEmbedding embedding) embedding.ComputeType = computeType;
        }
        Precision = target.Precision;
        return this;
    }

    /// <summary>Whether <see cref="PrepareForInference"/> made this model inference-only.</summary>
    public bool IsInferenceOnly { get; private set; }

    /// <summary>
    /// Makes a placed model inference-only (evaluation, sampling, logits): no parameter requires a gradient and, in a
    /// reduced precision, every Pattention's parameter tokens are converted to it once and the head keeps a copy of the
    /// embedding table in it. The forward then computes exactly what it computed before — those are the casts it made
    /// on every call — without casting every weight for every token: in bf16, cached decoding of the 150M shape read
    /// and wrote 1.2 GB of casts per token. The embedding table and the final norm stay float32. Such a model cannot
    /// be trained, placed again, grown or saved (its Pattention weights are no longer the float32 masters).
    /// </summary>
    public TokenformerModel PrepareForInference()
    {
        if (IsInferenceOnly) return this;
        using var _ = no_grad();
        foreach (var parameter in parameters()) parameter.requires_grad_(false);
        foreach (var module in modules())
        {
            if (module is MixedPrecisionProjection { ComputeType: { } type } projection) projection.to(type);
            else if (module is TokenEmbedding embedding) embedding.KeepHeadCopy();
        }
        IsInferenceOnly = true;
        return this;
    }

    /// <summary>Refuses an inference-only model where its float32 master weights are needed: training, growth, saving.</summary>
    /// <exception cref="InvalidOperationException">The model was prepared for inference.</exception>
    public void RequireMasterWeights(string action)
    {
        if (IsInferenceOnly)
            throw new InvalidOperationException($"{Stage.QualifiedName} was prepared for inference, so it cannot be {action}: load the checkpoint into a new model.");
    }

    /// <summary>An empty KV cache sized for this model.</summary>
    public KvCache CreateCache() => new((int)Stage.Architecture.Layers);

    /// <summary>Every Pattention with its state-dict prefix, in registration order.</summary>
    public IEnumerable<(string Name, Pattention Module)> Pattentions()
        => named_modules().Where(m => m.module is Pattention).Select(m => (m.name, (Pattention)m.module));

    /// <summary>
    /// From-scratch initialisation of the official recipe, reproducible from <paramref name="seed"/> on any device (the
    /// draws are made on the CPU, see <see cref="Initializers.Normal"/>): embedding and key tokens N(0, std²), value
    /// tokens N(0, valueStd²), final LayerNorm weight 1 and bias 0; a Transformer's input projections as key tokens and its
    /// output projections as value tokens (GPT-NeoX's normal and Wang inits).
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
                case ParameterRole.KeyTokens or ParameterRole.InputWeight: Initializers.Normal(parameter, architecture.KeyStd, generator); break;
                case ParameterRole.ValueTokens or ParameterRole.OutputWeight: Initializers.Normal(parameter, architecture.ValueStd, generator); break;
                case ParameterRole.FinalNormWeight: parameter.fill_(1); break;
                case ParameterRole.FinalNormBias: parameter.zero_(); break;
                default: throw new InvalidOperationException($"{name}: not a parameter name of either block kind, so it has no from-scratch initialisation.");
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
