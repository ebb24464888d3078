using System.Globalization;
using System.Text;
using TokenformerGen.Checkpoints;
using TokenformerGen.Modules;

namespace TokenformerGen.Training;

/// <summary>
/// The checkpoints of one training run in a folder: <c>step-00000100.safetensors</c> (model) with its
/// optimizer file beside it, and a <c>latest</c> file naming the newest complete one. <c>latest</c> is
/// replaced atomically only after both files of a save are on disk, so a kill at any moment leaves a
/// loadable checkpoint behind.
/// </summary>
public static class TrainingCheckpoints
{
    /// <summary>The pointer file's name.</summary>
    public const string LatestFile = "latest";

    private const string TokensKey = "tokens", FlopsKey = "flops", WallKey = "wall_s", StepCountKey = "adam_step_count";

    /// <summary>
    /// Saves model, optimizer state and progress, then points <c>latest</c> at them; keeps the newest <paramref name="keep"/> saves.
    /// <paramref name="extra"/> entries (the caller's own state, e.g. a schedule runner's curve) go into the model file's metadata.
    /// </summary>
    /// <exception cref="ArgumentException">An extra entry uses a key of the checkpoint or of the progress.</exception>
    public static string Save(string directory, Trainer trainer, int keep = 2, IReadOnlyDictionary<string, string>? extra = null)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"step-{trainer.Progress.Step:D8}.safetensors");
        Write(path, trainer, extra);
        AtomicFile.WriteText(Path.Combine(directory, LatestFile), Path.GetFileName(path));
        Prune(directory, keep);
        return path;
    }

    /// <summary>
    /// Writes one checkpoint of <paramref name="trainer"/> to <paramref name="path"/> (model, and the optimizer state
    /// beside it) in the form <see cref="Resume"/> reads, without touching any <c>latest</c> pointer.
    /// </summary>
    /// <exception cref="ArgumentException">An extra entry uses a key of the checkpoint or of the progress.</exception>
    public static void Write(string path, Trainer trainer, IReadOnlyDictionary<string, string>? extra = null)
    {
        var progress = trainer.Progress;
        var stage = trainer.Model.Stage;
        var (optimizerTensors, stepCount) = trainer.Optimizer.State();
        var metadata = new CheckpointMetadata(stage.Family, stage.Name, stage.SpecHash, progress.Step)
        {
            Precision = Devices.PrecisionTypes.Name(trainer.Model.Precision),
            Extra = WithProgress(extra, progress),
        };
        Checkpoint.Save(path, trainer.Model, metadata, optimizerTensors,
                        new Dictionary<string, string> { [StepCountKey] = stepCount.ToString(CultureInfo.InvariantCulture) });
    }

    /// <summary>The newest complete checkpoint in <paramref name="directory"/>, or null when there is none.</summary>
    public static string? Latest(string directory)
    {
        var pointer = Path.Combine(directory, LatestFile);
        if (!File.Exists(pointer)) return null;
        var path = Path.Combine(directory, File.ReadAllText(pointer).Trim());
        return File.Exists(path) ? path : throw new FileNotFoundException($"{pointer} names {path}, which does not exist.", path);
    }

    /// <summary>
    /// Loads the model weights of <paramref name="path"/> into <paramref name="model"/> (refusing another
    /// family or stage) and returns the optimizer and progress to resume with.
    /// </summary>
    public static (AdamW Optimizer, TrainingProgress Progress) Resume(string path, TokenformerModel model, TrainerOptions options)
    {
        var metadata = Checkpoint.Load(path, model, model.Stage.Family, model.Stage.Name);
        using var state = Checkpoint.LoadOptimizerState(path);
        var optimizer = new AdamW(model.NamedParameters(), weightDecay: options.WeightDecay);
        optimizer.Load(state.Tensors, long.Parse(state.Metadata.Extra[StepCountKey], CultureInfo.InvariantCulture));
        var progress = new TrainingProgress(metadata.Step,
            long.Parse(metadata.Extra[TokensKey], CultureInfo.InvariantCulture),
            double.Parse(metadata.Extra[FlopsKey], CultureInfo.InvariantCulture),
            double.Parse(metadata.Extra[WallKey], CultureInfo.InvariantCulture));
        return (optimizer, progress);
    }

    private static Dictionary<string, string> WithProgress(IReadOnlyDictionary<string, string>? extra, TrainingProgress progress)
    {
        var entries = new Dictionary<string, string>(extra ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var key in new[] { TokensKey, FlopsKey, WallKey })
            if (entries.ContainsKey(key)) throw new ArgumentException($"Extra checkpoint metadata may not use the key '{key}': it holds the training progress.", nameof(extra));
        entries[TokensKey] = progress.Tokens.ToString(CultureInfo.InvariantCulture);
        entries[FlopsKey] = progress.Flops.ToString("R", CultureInfo.InvariantCulture);
        entries[WallKey] = progress.WallSeconds.ToString("R", CultureInfo.InvariantCulture);
        return entries;
    }

    private static void Prune(string directory, int keep)
    {
        var saves = Directory.GetFiles(directory, "step-*.safetensors")
            .Where(f => !f.EndsWith(".optimizer.safetensors", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var old in saves.Take(Math.Max(0, saves.Count - keep)))
        {
            File.Delete(Checkpoint.OptimizerPathFor(old));
            File.Delete(old);
        }
    }
}
