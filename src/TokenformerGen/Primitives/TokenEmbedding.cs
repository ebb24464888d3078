using TokenformerGen.Architecture;
using TokenformerGen.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// The token embedding <c>E [vocab, d]</c> of a Tokenformer, which is also its LM head (<c>logits = h · Eᵀ</c>, tied, no
/// scaling). Looked-up rows keep the table's type (the residual stream stays float32 in every precision); the head
/// multiplies in <see cref="ComputeType"/> and returns float32 logits, so losses, sampling and exported logits are float32.
/// </summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    /// <summary>Creates the embedding with zero weights.</summary>
    public TokenEmbedding(long vocabulary, long width, string name = ParameterNames.EmbeddingModule) : base(name)
    {
        weight = nn.Parameter(zeros(vocabulary, width));
        RegisterComponents();
    }

    /// <summary>The table <c>[vocab, d]</c> (<c>weight</c>): float32 master weights in every precision.</summary>
    public Parameter Weight => weight;

    /// <summary>What the head multiplies in: null (the default) for the table's own type, or bfloat16; set by <c>TokenformerModel.Place</c>.</summary>
    public ScalarType? ComputeType { get; set; }

    /// <summary>Rows <c>[.., d]</c> of the table for token ids <c>[..]</c> on the table's device.</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var flat = tokens.reshape(-1);
        using var rows = Lookup(weight, flat);
        return rows.view([.. tokens.shape, weight.shape[1]]);
    }

    /// <summary>
    /// Logits <c>[.., vocab]</c> of hidden states <c>[.., d]</c>: <c>h · Eᵀ</c> computed in <see cref="ComputeType"/>,
    /// returned in the table's own type (float32 master weights: float32 logits).
    /// </summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var type = ComputeType ?? weight.dtype;
        var table = _headCopy ?? weight.to(type);
        var logits = matmul(hidden.to(type), table.t());
        return (type == weight.dtype ? logits : logits.to(weight.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The lookup as ONNX nodes: rows <c>[.., d]</c> of the table for token ids <c>[..]</c> (int64), in the graph's precision.</summary>
    public OnnxValue ToOnnx(OnnxValue tokens) => tokens.Graph.GatherRows(weight, tokens);

    /// <summary>The tied head as ONNX nodes: float32 logits <c>[.., vocab]</c> = <c>h · Eᵀ</c>, the table in the graph's precision (shared with the lookup).</summary>
    public OnnxValue LogitsToOnnx(OnnxValue hidden) => hidden.Graph.MatMulTransposed(hidden, weight);

    // The table in ComputeType, kept for an inference-only model (see KeepHeadCopy); null otherwise.
    private Tensor? _headCopy;

    /// <summary>
    /// Keeps a copy of the table in <see cref="ComputeType"/> for the head, so that an inference-only model does not cast
    /// the whole table for every token it decodes. The lookup keeps reading the float32 table, so the logits are those
    /// of the casting head to the bit. Nothing happens in the table's own type.
    /// </summary>
    internal void KeepHeadCopy()
    {
        if (ComputeType is not { } type || type == weight.dtype) return;
        using var _ = no_grad();
        _headCopy?.Dispose();
        _headCopy = weight.detach().to(type).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _headCopy?.Dispose();
        base.Dispose(disposing);
    }

    // index_select, as an Embedding module does (same values and gradients), except on the meta device, which has no
    // kernel for it: there rows are taken by indexing, with the device check the kernel makes on real devices.
    private static Tensor Lookup(Tensor table, Tensor ids)
    {
        if (table.device_type != DeviceType.META) return table.index_select(0, ids);
        Devices.SameDevice.Require(ids, "token ids", table, "embedding");
        return Explicit(table, ids);
    }

    /// <summary>The lookup by indexing (<c>table[ids]</c>): the same rows as index_select.</summary>
    internal static Tensor Explicit(Tensor table, Tensor ids) => table[ids];
}
