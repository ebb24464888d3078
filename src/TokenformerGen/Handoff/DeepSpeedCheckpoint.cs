using System.Globalization;
using TokenformerGen.Checkpoints;
using TokenformerGen.Checkpoints.Torch;
using static TorchSharp.torch;

namespace TokenformerGen.Handoff;

/// <summary>What <see cref="DeepSpeedCheckpoint.Read"/> found; disposing it disposes the tensors.</summary>
/// <param name="File">The <c>mp_rank_00_model_states.pt</c> read.</param>
/// <param name="Tag">The tag <c>latest</c> named, e.g. <c>global_step500</c>.</param>
/// <param name="Tensors">The model under our names, float32 on the CPU.</param>
/// <param name="StoredDType">The dtype(s) the file held them in (e.g. <c>F16</c>).</param>
/// <param name="DataParallelWorldSize">The data-parallel world size it was saved with.</param>
/// <param name="Ignored">The file's other entries (optimizer, scheduler, RNG states, config …), which the weights do not need.</param>
public sealed record DeepSpeedModelStates(
    string File, string Tag, IReadOnlyDictionary<string, Tensor> Tensors, string StoredDType, long DataParallelWorldSize, IReadOnlyList<string> Ignored) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}

/// <summary>
/// A DeepSpeed checkpoint directory as the official TokenFormer trainer (GPT-NeoX on DeeperSpeed, <c>pipe_parallel_size: 1</c>)
/// saves and loads it: <c>D/latest</c> holds a tag such as <c>global_step500</c>, and
/// <c>D/{tag}/mp_rank_00_model_states.pt</c> is a <c>torch.save</c>d dict whose <c>module</c> is the model's state dict in
/// the <see cref="OfficialLayout"/>, beside <c>dp_world_size</c>, <c>mp_world_size</c> and, in a file the trainer saved, its
/// optimizer, scheduler, RNG and config entries.
/// </summary>
public static class DeepSpeedCheckpoint
{
    /// <summary>The file naming the newest tag; without it the trainer silently starts from scratch.</summary>
    public const string LatestFile = "latest";

    /// <summary>The model file of model-parallel rank 0 inside a tag's folder.</summary>
    public const string ModelStatesFile = "mp_rank_00_model_states.pt";

    /// <summary>The trainer's tag for a step: <c>global_step{step}</c>.</summary>
    public static string TagFor(long step) => $"global_step{step.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Writes <paramref name="ours"/> (exactly the tensors of a <paramref name="layers"/>-layer model) as
    /// <c>directory/global_step{step}/mp_rank_00_model_states.pt</c> — a dict of <c>module</c> (an OrderedDict of
    /// float32 tensors under the official names, in model order), <c>dp_world_size</c> 1 and <c>mp_world_size</c> 1 —
    /// and then <c>directory/latest</c>, each atomically. F16/BF16 tensors are widened to float32 (exact).
    /// </summary>
    /// <returns>The path of the model file.</returns>
    /// <exception cref="CheckpointMismatchException">Unknown or missing names, or a dtype that cannot be stored.</exception>
    public static string Write(string directory, IReadOnlyDictionary<string, Tensor> ours, int layers, long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        var tag = TagFor(step);
        var file = Path.Combine(directory, tag, ModelStatesFile);
        var prepared = OfficialCheckpoint.ToOfficialFloat32(file, ours, layers);
        try
        {
            var module = new PyDict { Ordered = true };
            foreach (var (name, tensor) in prepared) module.Set(name, tensor);
            var root = new PyDict();
            root.Set("module", module);
            root.Set("dp_world_size", 1L);
            root.Set("mp_world_size", 1L);
            AtomicFile.Write(file, stream => TorchArchive.Write(stream, root));
            // Last: until `latest` names the tag, the directory holds no checkpoint the trainer would load.
            AtomicFile.Write(Path.Combine(directory, LatestFile), stream => stream.Write(System.Text.Encoding.ASCII.GetBytes(tag)));
            return file;
        }
        finally
        {
            foreach (var (_, t) in prepared) t.Dispose();
        }
    }

    /// <summary>
    /// Reads the model of the checkpoint <c>latest</c> names: the <c>module</c> of its <c>mp_rank_00_model_states.pt</c>,
    /// float16, bfloat16 or float32, returned as float32 under our names. Every other entry is left unread and listed.
    /// </summary>
    /// <exception cref="CheckpointFormatException">No <c>latest</c>, a missing tag folder, a pipeline-parallel (<c>layer_XX</c>)
    /// or model-parallel checkpoint, ZeRO-3 partitioned weights, or a file without a usable <c>module</c>.</exception>
    /// <exception cref="CheckpointMismatchException">The module's names are not those of a <paramref name="layers"/>-layer model.</exception>
    public static DeepSpeedModelStates Read(string directory, int layers)
    {
        var (tag, file) = Locate(directory);
        using var archive = TorchArchive.Open(file, PickleGlobals.DeepSpeed);
        if (archive.Root is not PyDict root)
            throw new CheckpointFormatException(file, null, $"holds {PickleReader.Describe(archive.Root)}, not the dict DeepSpeed saves");

        var mp = Integer(root, "mp_world_size", file);
        if (mp is not null and not 1)
            throw new CheckpointFormatException(file, null, $"saved with model parallelism {mp} (mp_world_size); only model_parallel_size 1 checkpoints can be read: merge the ranks first");
        var dp = Integer(root, "dp_world_size", file) ?? 1;
        if (!root.TryGet("module", out var module) || module is null)
            throw new CheckpointFormatException(file, null, "has no 'module' (a pipeline-parallel save keeps its weights in layer_XX files instead)");

        // Weights come as float16, bfloat16 or float32 and are read as float32 (widening is exact).
        var raw = archive.ReadStateDict(module, "its 'module'", [ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float32], ScalarType.Float32);
        var stored = ((PyDict)module).Items.Select(kv => SafeTensorsDType.DisplayName(TorchArchive.DTypeOf(((TorchTensorRef)kv.Value!).Storage.Type)!.Value))
            .Distinct().Order(StringComparer.Ordinal);
        var ours = OfficialCheckpoint.ToOurs(file, raw, layers);
        var ignored = root.Items.Select(kv => kv.Key as string ?? PickleReader.Describe(kv.Key))
            .Where(k => k is not ("module" or "dp_world_size" or "mp_world_size")).ToList();
        return new DeepSpeedModelStates(file, tag, ours, string.Join("+", stored), dp, ignored);
    }

    /// <summary>
    /// Reads the checkpoint like <see cref="Read"/> and copies it into <paramref name="target"/> (a float32 state dict)
    /// after checking every name, shape and dtype; nothing is touched when anything differs.
    /// </summary>
    /// <returns>What was read (its tensors already disposed).</returns>
    public static DeepSpeedModelStates Import(string directory, IReadOnlyDictionary<string, Tensor> target, int layers)
    {
        using var read = Read(directory, layers);
        OfficialCheckpoint.CopyChecked(read.File, target, read.Tensors, layers);
        return read with { Tensors = new Dictionary<string, Tensor>() };
    }

    // The tag `latest` names and its rank-0 model file, refusing the layouts this reader does not handle by name.
    private static (string Tag, string File) Locate(string directory)
    {
        if (File.Exists(directory))
            throw new CheckpointFormatException(directory, null, "is a file; give the DeepSpeed checkpoint directory (the one holding 'latest')");
        if (!Directory.Exists(directory))
            throw new CheckpointFormatException(directory, null, "does not exist");
        var latest = Path.Combine(directory, LatestFile);
        if (!File.Exists(latest))
        {
            var tags = Directory.GetDirectories(directory, "global_step*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            throw new CheckpointFormatException(directory, null,
                $"has no '{LatestFile}' file, so it is no DeepSpeed checkpoint the trainer would load (it would start from scratch)"
                + (tags.Count > 0 ? $"; it has {string.Join(", ", tags)}: write the tag to load into '{LatestFile}'" : ""));
        }
        var tag = File.ReadAllText(latest).Trim();
        if (tag.Length == 0 || tag.Contains('/') || tag.Contains('\\') || tag is "." or "..")
            throw new CheckpointFormatException(latest, null, $"'{tag}' is not a checkpoint tag (a folder name such as global_step500)");
        var folder = Path.Combine(directory, tag);
        if (!Directory.Exists(folder))
            throw new CheckpointFormatException(latest, null, $"names tag '{tag}', but {folder} does not exist");
        var names = Directory.GetFiles(folder).Select(f => Path.GetFileName(f)!).ToList();
        if (names.Any(n => n.StartsWith("layer_", StringComparison.Ordinal)))
            throw new CheckpointFormatException(folder, null, "holds pipeline-parallel layer_XX files (pipe_parallel_size ≥ 2); only pipe_parallel_size 1 checkpoints, whose weights are all in mp_rank_00_model_states.pt, can be read");
        var otherRanks = names.Where(n => n.StartsWith("mp_rank_", StringComparison.Ordinal) && n.EndsWith("_model_states.pt", StringComparison.Ordinal) && n != ModelStatesFile).Order(StringComparer.Ordinal).ToList();
        if (otherRanks.Count > 0)
            throw new CheckpointFormatException(folder, null, $"holds model-parallel ranks ({string.Join(", ", otherRanks)}); only model_parallel_size 1 checkpoints can be read");
        var file = Path.Combine(folder, ModelStatesFile);
        if (!File.Exists(file))
        {
            var zero3 = names.Any(n => n.StartsWith("zero_pp_rank_", StringComparison.Ordinal) && n.EndsWith("_model_states.pt", StringComparison.Ordinal));
            throw new CheckpointFormatException(folder, null, zero3
                ? $"has ZeRO stage 3 partitioned weights and no {ModelStatesFile}: turn it into one file with DeepSpeed's zero_to_fp32.py and import that pytorch_model.bin with --official"
                : $"has no {ModelStatesFile}");
        }
        return (tag, file);
    }

    private static long? Integer(PyDict root, string key, string file)
    {
        if (!root.TryGet(key, out var value) || value is null) return null;
        return value is long l ? l : throw new CheckpointFormatException(file, null, $"'{key}' is {PickleReader.Describe(value)}, not an integer");
    }
}
