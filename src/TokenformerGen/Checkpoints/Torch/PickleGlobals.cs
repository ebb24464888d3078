namespace TokenformerGen.Checkpoints.Torch;

/// <summary>
/// The one list of what a pickle may name (README, "Untrusted files", mirrors it). <see cref="PickleReader"/> refuses
/// every other <c>GLOBAL</c>/<c>STACK_GLOBAL</c> the moment it is read, like <c>torch.load(weights_only=True)</c>, and
/// calls nothing even of these: each is interpreted as data (a tensor reference, an ordered dict, a set, bytes …) or,
/// for <see cref="DeepSpeedRecords"/>, kept as an inert record whose contents are never read.
/// </summary>
internal static class PickleGlobals
{
    /// <summary>What a <c>torch.save</c>d state dict is made of; the only globals <c>pytorch_model.bin</c> may name.</summary>
    public static readonly IReadOnlySet<string> StateDict = new HashSet<string>(
    [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        .. TorchArchive.StorageTypeNames.Select(name => "torch." + name),
        // Containers and bytes as pickle spells them (protocol 2 writes Python 3's builtins as __builtin__).
        "builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.bytes",
        "__builtin__.set", "__builtin__.frozenset", "__builtin__.bytearray", "__builtin__.bytes",
        "_codecs.encode",
    ], StringComparer.Ordinal);

    /// <summary>
    /// Classes a DeepSpeed <c>mp_rank_00_model_states.pt</c> carries beside its <c>module</c> (the engine's config, the
    /// saved numpy RNG state, the trainer's arguments), accepted there only and only as inert records: made by
    /// <c>REDUCE</c>/<c>NEWOBJ</c> and <c>BUILD</c> without running anything, listed among the entries the import ignores.
    /// <c>torch.load(weights_only=True)</c> refuses these files for the same classes unless they are added to its safe globals.
    /// </summary>
    public static readonly IReadOnlySet<string> DeepSpeedRecords = new HashSet<string>(
    [
        "deepspeed.runtime.config.DeepSpeedConfig",
        "argparse.Namespace",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.ndarray", "numpy.dtype",
    ], StringComparer.Ordinal);

    /// <summary>What a DeepSpeed model-states file may name: a state dict's globals and the inert records.</summary>
    public static readonly IReadOnlySet<string> DeepSpeed = new HashSet<string>(StateDict.Concat(DeepSpeedRecords), StringComparer.Ordinal);
}
