using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// Native checkpoints: the model's tensors in a safetensors file <c>X.safetensors</c> with
/// <see cref="CheckpointMetadata"/>, and optionally the optimizer state beside it in
/// <c>X.optimizer.safetensors</c>. Both files are written atomically; both carry the same
/// <c>checkpoint_id</c>, so a model and an optimizer state from different saves are never paired.
/// </summary>
public static class Checkpoint
{
    private const string Extension = ".safetensors";

    /// <summary>The optimizer file that belongs to <paramref name="modelPath"/>: <c>X.safetensors</c> → <c>X.optimizer.safetensors</c>.</summary>
    public static string OptimizerPathFor(string modelPath)
        => (modelPath.EndsWith(Extension, StringComparison.Ordinal) ? modelPath[..^Extension.Length] : modelPath) + ".optimizer" + Extension;

    /// <summary>
    /// Saves the state dict of <paramref name="module"/>, and for a <see cref="Modules.TokenformerModel"/> whether it uses its
    /// own τ (<see cref="CheckpointMetadata.OwnTau"/>); see <see cref="Save(string, IReadOnlyDictionary{string, Tensor}, CheckpointMetadata, IReadOnlyDictionary{string, Tensor}?, IReadOnlyDictionary{string, string}?)"/>.
    /// </summary>
    public static CheckpointMetadata Save(string path, nn.Module module, CheckpointMetadata metadata,
                                          IReadOnlyDictionary<string, Tensor>? optimizerState = null,
                                          IReadOnlyDictionary<string, string>? optimizerExtra = null)
    {
        if (module is Modules.TokenformerModel model)
        {
            model.RequireMasterWeights("saved");
            metadata = metadata with { OwnTau = model.HasOwnTau };
        }
        return Save(path, module.state_dict(), metadata, optimizerState, optimizerExtra);
    }

    /// <summary>
    /// Saves <paramref name="tensors"/> to <paramref name="path"/> and, when given, the optimizer state
    /// to <see cref="OptimizerPathFor"/>. Both files are fully on disk before either replaces its
    /// predecessor; the optimizer file is renamed first and the model file last. A stale optimizer file
    /// from an earlier save is deleted when no optimizer state is given.
    /// </summary>
    /// <param name="path">The model file.</param>
    /// <param name="tensors">Name → tensor (any device; written as stored dtype).</param>
    /// <param name="metadata">Family, stage, spec hash, step and extra entries; <see cref="CheckpointMetadata.DType"/>
    /// is derived from the floating-point tensors when null, <see cref="CheckpointMetadata.CheckpointId"/> is always new.</param>
    /// <param name="optimizerState">Optimizer tensors by name (the trainer defines the names), or null.</param>
    /// <param name="optimizerExtra">Extra metadata entries of the optimizer file (hyper-parameters, ...).</param>
    /// <returns>The metadata as written.</returns>
    public static CheckpointMetadata Save(string path, IReadOnlyDictionary<string, Tensor> tensors, CheckpointMetadata metadata,
                                          IReadOnlyDictionary<string, Tensor>? optimizerState = null,
                                          IReadOnlyDictionary<string, string>? optimizerExtra = null)
    {
        var written = metadata with
        {
            DType = metadata.DType ?? DTypeOf(tensors.Values.Select(t => t.dtype)),
            CheckpointId = Guid.NewGuid().ToString("N"),
        };
        var modelMap = written.ToDictionary("model");
        var files = new List<(string, Action<Stream>)>();
        var optimizerPath = OptimizerPathFor(path);
        if (optimizerState is not null)
        {
            var optimizerMap = (written with { Extra = optimizerExtra ?? new Dictionary<string, string>() }).ToDictionary("optimizer");
            files.Add((optimizerPath, s => SafeTensorsFile.Write(s, optimizerState, optimizerMap)));
        }
        files.Add((path, s => SafeTensorsFile.Write(s, tensors, modelMap)));
        AtomicFile.WriteAll(files);
        if (optimizerState is null && File.Exists(optimizerPath)) File.Delete(optimizerPath);
        return written;
    }

    /// <summary>Reads the metadata of a checkpoint (the header is validated, no tensor is read).</summary>
    public static CheckpointMetadata ReadMetadata(string path)
    {
        using var reader = SafeTensorsReader.Open(path);
        return CheckpointMetadata.FromDictionary(reader.Metadata, path);
    }

    /// <summary>Loads a checkpoint into <paramref name="module"/>; see <see cref="LoadInto(SafeTensorsReader, IReadOnlyDictionary{string, Tensor})"/>.</summary>
    public static CheckpointMetadata Load(string path, nn.Module module) => Load(path, module.state_dict());

    /// <summary>
    /// Loads a checkpoint into <paramref name="module"/> after checking that its family and stage are the
    /// expected ones (nothing is touched otherwise). A <see cref="Modules.TokenformerModel"/> takes the checkpoint's τ too:
    /// one saved with its own τ makes the model <see cref="Modules.TokenformerModel.UseOwnTau"/>.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Family or stage differ, tensors do not fit, or the model uses its own
    /// τ and the checkpoint was trained with its stage's.</exception>
    public static CheckpointMetadata Load(string path, nn.Module module, string family, string stage)
    {
        using var reader = SafeTensorsReader.Open(path);
        var metadata = CheckpointMetadata.FromDictionary(reader.Metadata, path);
        metadata.Require(path, family, stage);
        var model = module as Modules.TokenformerModel;
        if (model is { HasOwnTau: true } && !metadata.OwnTau)
            throw new CheckpointMismatchException(path, [$"τ: the checkpoint was trained with {stage}'s declared τ, the model uses its own (√n of its counts)."]);
        LoadInto(reader, module.state_dict());
        if (metadata.OwnTau) model?.UseOwnTau();
        return metadata;
    }

    /// <summary>Loads a checkpoint into the tensors of <paramref name="target"/> (a state dict).</summary>
    public static CheckpointMetadata Load(string path, IReadOnlyDictionary<string, Tensor> target)
    {
        using var reader = SafeTensorsReader.Open(path);
        var metadata = CheckpointMetadata.FromDictionary(reader.Metadata, path);
        LoadInto(reader, target);
        return metadata;
    }

    /// <summary>
    /// Checks every name, shape and dtype of the file against <paramref name="target"/> and reports all
    /// mismatches at once; only when everything fits are the tensors read, one at a time, and copied
    /// into the target tensors in place (any device).
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Missing, unexpected, misshapen or mistyped tensors.</exception>
    public static void LoadInto(SafeTensorsReader reader, IReadOnlyDictionary<string, Tensor> target)
    {
        StateDictCheck.Require(reader.FilePath, StateDictCheck.SpecsOf(target), reader.Tensors);
        using var noGrad = no_grad();
        foreach (var (name, destination) in target)
        {
            using var source = reader.ReadTensor(name);
            destination.copy_(source);
        }
    }

    /// <summary>
    /// Reads the optimizer state saved with <paramref name="modelPath"/>, refusing one that belongs to
    /// another save (different <c>checkpoint_id</c>) than the model file.
    /// </summary>
    /// <exception cref="FileNotFoundException">The checkpoint has no optimizer file.</exception>
    /// <exception cref="CheckpointMismatchException">The two files come from different saves.</exception>
    public static OptimizerStateFile LoadOptimizerState(string modelPath)
    {
        var model = ReadMetadata(modelPath);
        var optimizerPath = OptimizerPathFor(modelPath);
        if (!File.Exists(optimizerPath))
            throw new FileNotFoundException($"Checkpoint {modelPath} (step {model.Step}) has no optimizer state {optimizerPath}.", optimizerPath);
        var content = SafeTensorsFile.Read(optimizerPath);
        try
        {
            var optimizer = CheckpointMetadata.FromDictionary(content.Metadata, optimizerPath);
            if (optimizer.CheckpointId != model.CheckpointId || optimizer.Step != model.Step)
                throw new CheckpointMismatchException(optimizerPath,
                [
                    $"optimizer state is from save {optimizer.CheckpointId} (step {optimizer.Step}), " +
                    $"but the model {modelPath} is from save {model.CheckpointId} (step {model.Step}).",
                ]);
            return new OptimizerStateFile(content.Tensors, optimizer);
        }
        catch
        {
            content.Dispose();
            throw;
        }
    }

    /// <summary>The <c>dtype</c> entry of a checkpoint holding tensors of these types: the one floating-point dtype, <c>mixed(...)</c>, or <c>none</c>.</summary>
    public static string DTypeOf(IEnumerable<ScalarType> dtypes)
    {
        var kinds = dtypes.Where(t => t is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64)
                          .Select(SafeTensorsDType.DisplayName).Distinct().Order(StringComparer.Ordinal).ToList();
        return kinds.Count switch
        {
            0 => "none",
            1 => kinds[0],
            _ => $"mixed({string.Join(",", kinds)})",
        };
    }
}

/// <summary>An optimizer state read from disk; disposing it disposes the tensors.</summary>
/// <param name="Tensors">Name → tensor (CPU, stored dtype).</param>
/// <param name="Metadata">Its metadata; <see cref="CheckpointMetadata.Extra"/> holds the trainer's entries.</param>
public sealed record OptimizerStateFile(Dictionary<string, Tensor> Tensors, CheckpointMetadata Metadata) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
