using TokenformerGen.Checkpoints;
using TokenformerGen.Checkpoints.Torch;
using static TorchSharp.torch;

namespace TokenformerGen.Handoff;

/// <summary>
/// The official Tokenformer checkpoint, <c>pytorch_model.bin</c>: a <c>torch.save</c> zip holding a flat
/// float32 state dict in the <see cref="OfficialLayout"/>, read and written by <see cref="TorchArchive"/>;
/// names are mapped to and from ours, and every missing, extra or misshapen tensor is reported at once.
/// </summary>
public static class OfficialCheckpoint
{
    /// <summary>The file name of the official release.</summary>
    public const string FileName = "pytorch_model.bin";

    /// <summary>
    /// Reads <paramref name="path"/> and returns its tensors under our names (CPU, stored dtype; the
    /// caller owns them). The file must hold exactly the official tensors of a
    /// <paramref name="layers"/>-layer model.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Not a readable torch.save state dict.</exception>
    /// <exception cref="CheckpointMismatchException">Unknown or missing names (all listed).</exception>
    public static Dictionary<string, Tensor> Read(string path, int layers) => ToOurs(path, Unpickle(path), layers);

    /// <summary>
    /// Renames a complete official state dict to ours (taking ownership of its tensors: the unexpected ones are
    /// disposed, and all of them on failure).
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Unknown or missing names (all listed).</exception>
    internal static Dictionary<string, Tensor> ToOurs(string path, Dictionary<string, Tensor> raw, int layers)
    {
        var ours = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var problems = new List<string>();
        try
        {
            foreach (var (official, tensor) in raw.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (OfficialLayout.TryToOurs(official, layers, out var name, out var error))
                    ours[name] = tensor;
                else
                {
                    problems.Add($"unexpected: {error}");
                    tensor.Dispose();
                }
            }
            foreach (var name in OfficialLayout.OurNames(layers).Where(n => !ours.ContainsKey(n)))
                problems.Add($"missing: {OfficialLayout.ToOfficial(name, layers)} (ours: {name}).");
            if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
            return ours;
        }
        catch
        {
            foreach (var t in ours.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Imports an official checkpoint into <paramref name="module"/>: every name, shape and dtype is
    /// checked against the module's state dict and all mismatches are reported at once before any
    /// parameter is touched.
    /// </summary>
    /// <exception cref="CheckpointFormatException">Not a readable torch.save state dict.</exception>
    /// <exception cref="CheckpointMismatchException">Missing, unknown, misshapen or mistyped tensors.</exception>
    public static void Import(string path, nn.Module module, int layers) => Import(path, module.state_dict(), layers);

    /// <summary>Imports an official checkpoint into the tensors of a state dict; see <see cref="Import(string, nn.Module, int)"/>.</summary>
    public static void Import(string path, IReadOnlyDictionary<string, Tensor> target, int layers)
    {
        var raw = Unpickle(path);
        try
        {
            CopyInto(path, target, raw, layers);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>
    /// Checks an official state dict against <paramref name="target"/> (names mapped, shapes and dtypes compared, every
    /// problem listed) and only then copies it in. The caller keeps ownership of <paramref name="official"/>.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Missing, unknown, misshapen or mistyped tensors.</exception>
    internal static void CopyInto(string path, IReadOnlyDictionary<string, Tensor> target, IReadOnlyDictionary<string, Tensor> official, int layers)
    {
        var problems = new List<string>();
        var mapped = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in official.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (OfficialLayout.TryToOurs(name, layers, out var ours, out var error))
                mapped[ours] = tensor;
            else
                problems.Add($"unexpected: {error}");
        }
        CopyChecked(path, target, mapped, layers, problems);
    }

    /// <summary>
    /// Checks a state dict already under our names against <paramref name="target"/> (shapes and dtypes compared, every
    /// problem listed with its official name, after any <paramref name="problems"/> found before) and only then copies it in.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Missing, unknown, misshapen or mistyped tensors.</exception>
    internal static void CopyChecked(string path, IReadOnlyDictionary<string, Tensor> target, IReadOnlyDictionary<string, Tensor> ours, int layers,
                                     List<string>? problems = null)
    {
        problems ??= [];
        problems.AddRange(StateDictCheck.Compare(StateDictCheck.SpecsOf(target), StateDictCheck.SpecsOf(ours),
                                                 name => OfficialLayout.TryToOfficial(name, layers, out var o, out _) ? $"{name} [official {o}]" : name));
        if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);

        using var noGrad = no_grad();
        foreach (var (name, destination) in target) destination.copy_(ours[name]);
    }

    /// <summary>Writes the state dict of <paramref name="module"/> as an official checkpoint; see <see cref="Write(string, IReadOnlyDictionary{string, Tensor}, int)"/>.</summary>
    public static void Export(string path, nn.Module module, int layers) => Write(path, module.state_dict(), layers);

    /// <summary>
    /// Writes <paramref name="ours"/> (exactly the tensors of a <paramref name="layers"/>-layer model) to
    /// <paramref name="path"/> atomically as a float32 <c>torch.save</c> state dict under the official names,
    /// in model order. Float16 and BFloat16 tensors are widened to float32 (exact); others are refused.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Unknown or missing names, or a dtype that cannot be stored (all listed).</exception>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> ours, int layers)
    {
        var prepared = ToOfficialFloat32(path, ours, layers);
        try
        {
            var dict = new PyDict { Ordered = true };
            foreach (var (name, tensor) in prepared) dict.Set(name, tensor);
            AtomicFile.Write(path, stream => TorchArchive.Write(stream, dict));
        }
        finally
        {
            foreach (var (_, t) in prepared) t.Dispose();
        }
    }

    /// <summary>
    /// Our complete state dict under the official names in model order, each tensor a new float32 handle (an alias of a
    /// float32 tensor; the caller disposes them). F16/BF16 are widened (exact); other dtypes, and missing or unknown names, are refused.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Unknown or missing names, or a dtype that cannot be stored (all listed).</exception>
    internal static List<(string Official, Tensor Tensor)> ToOfficialFloat32(string path, IReadOnlyDictionary<string, Tensor> ours, int layers)
    {
        var problems = new List<string>();
        foreach (var name in ours.Keys.Order(StringComparer.Ordinal))
            if (!OfficialLayout.TryToOfficial(name, layers, out _, out var error)) problems.Add($"unexpected: {error}");
        var expected = OfficialLayout.OurNames(layers);
        foreach (var name in expected.Where(n => !ours.ContainsKey(n)))
            problems.Add($"missing: {name} (official: {OfficialLayout.ToOfficial(name, layers)}).");
        foreach (var name in expected.Where(ours.ContainsKey))
            if (ours[name].dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
                problems.Add($"dtype: {name} is {SafeTensorsDType.DisplayName(ours[name].dtype)}; the official checkpoint is float32 (F16/BF16 are widened, others refused).");
        if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);

        var prepared = new List<(string, Tensor)>();
        try
        {
            foreach (var name in expected) prepared.Add((OfficialLayout.ToOfficial(name, layers), AsFloat32(ours[name])));
            return prepared;
        }
        catch
        {
            foreach (var (_, t) in prepared) t.Dispose();
            throw;
        }
    }

    // A float32 handle on the tensor: an alias when it is float32 already (the archive writer copies each tensor's
    // elements to the file one at a time, from any device or layout), else the exact widening.
    private static Tensor AsFloat32(Tensor tensor)
    {
        if (tensor.dtype == ScalarType.Float32) return tensor.detach();
        using var detached = tensor.detach();
        return detached.to_type(ScalarType.Float32);
    }

    private static Dictionary<string, Tensor> Unpickle(string path)
    {
        using var archive = TorchArchive.Open(path, PickleGlobals.StateDict);
        return archive.ReadStateDict(archive.Root, "its object");
    }
}
