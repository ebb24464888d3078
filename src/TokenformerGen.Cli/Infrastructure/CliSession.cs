using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Commands;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Modules;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Cli.Infrastructure;

/// <summary>A checkpoint loaded into a model of its stage; disposing it frees the model.</summary>
/// <param name="Path">The file.</param>
/// <param name="Metadata">Its metadata.</param>
/// <param name="Family">Its family as compiled into the application.</param>
/// <param name="Stage">Its stage.</param>
/// <param name="Model">The model holding its weights.</param>
internal sealed record LoadedCheckpoint(string Path, CheckpointMetadata Metadata, FamilyRegistration Family, StageRegistration Stage, TokenformerModel Model) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>What every command shares: where output goes, the application's defaults, and name/file resolution.</summary>
internal sealed class CliSession(CliDefaults defaults, IAnsiConsole console, TextWriter error)
{
    public CliDefaults Defaults { get; } = defaults;

    public IAnsiConsole Console { get; } = console;

    public TextWriter Error { get; } = error;

    /// <summary>A family by name, or the application's default when <paramref name="name"/> is null and <paramref name="useDefault"/>.</summary>
    public FamilyRegistration Family(string? name, bool useDefault = false)
    {
        name ??= useDefault ? Defaults.Family : null;
        if (name is null)
            throw new CliException($"name a family with --family (this application has: {KnownFamilies()})");
        if (ModelRegistry.Families.Count == 0)
            throw new CliException("this application compiles no model family: add a *.tfmodel.yaml spec to it");
        return ModelRegistry.Family(name);
    }

    public static StageRegistration Stage(FamilyRegistration family, string? stage) => family.Stage(stage);

    private static string KnownFamilies() => ModelRegistry.Families.Count == 0 ? "none" : string.Join(", ", ModelRegistry.Families.Select(f => f.Name));

    /// <summary>
    /// The data to read: <paramref name="data"/>, else the application's default corpus. A NeoX dataset (a path whose
    /// <c>.idx</c> and <c>.bin</c> exist, or one of those two files) is returned as its prefix; otherwise the path must
    /// be an existing text file.
    /// </summary>
    public string DataPath(string? data)
    {
        var path = data ?? Defaults.Corpus ?? throw new CliException("give a UTF-8 text file or a NeoX dataset prefix with --data");
        if (NeoXDataset.PrefixOf(path) is { } prefix) return prefix;
        return File.Exists(path) ? path : throw new CliException($"data file '{path}' does not exist (nor is it a NeoX dataset prefix, with PREFIX.idx and PREFIX.bin)");
    }

    /// <summary>The folder of tokenized-corpus caches.</summary>
    public string CacheDirectory(string? cache)
    {
        if ((cache ?? Defaults.CacheDirectory) is { } explicitDirectory) return explicitDirectory;
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "tokenformergen");
    }

    /// <summary>
    /// Sets libtorch's intra-op threads from <c>--threads</c> or the application's default (null: libtorch's, one per core).
    /// With several threads on a machine that is already busy, says that fewer may be faster: libtorch's threads wait for
    /// each other at every operation, so one that shares its core with another process holds all of them up.
    /// </summary>
    public void UseThreads(int? threads)
    {
        var n = threads ?? Defaults.Threads;
        if (n < 1) throw new CliException($"--threads {n}: give at least 1");
        if (n is not null) TorchSharp.torch.set_num_threads(n.Value);
        var used = TorchSharp.torch.get_num_threads();
        // On standard error, so that what a command prints never depends on what else the machine is doing.
        if (threads is null && used > 1 && Defaults.LoadAverage() is double load && load > used - 0.5)
            Error.WriteLine(FormattableString.Invariant(
                $"warning: the machine is busy (load average {load:F1} on {Environment.ProcessorCount} cores): {used} intra-op threads may run several times slower than --threads 1 while other work shares the cores"));
    }

    /// <summary>The device and precision of <c>--device</c> and <c>--precision</c>, saying which device was chosen and why.</summary>
    public ComputeTarget Compute(ComputeSettings settings)
    {
        var target = Defaults.Cpu is { } cpu ? ComputeTarget.Resolve(settings.Device, settings.Precision, cpu) : ComputeTarget.Resolve(settings.Device, settings.Precision);
        Console.MarkupLineInterpolated($"[grey]{target}[/]");
        if (target.Warning is { } warning) Error.WriteLine("warning: " + warning);
        return target;
    }

    /// <summary>The tokenizer for <paramref name="stage"/> (a user's tokenizer.json when given), saying which.</summary>
    public ITextTokenizer Tokenizer(StageInfo stage, string? tokenizerJson)
    {
        if (tokenizerJson is not null && !File.Exists(tokenizerJson))
            throw new CliException($"tokenizer file '{tokenizerJson}' does not exist");
        var choice = Tokenizers.For(stage.Architecture.Tokenizer, tokenizerJson, stage.Architecture.PaddedVocabulary);
        Console.MarkupLineInterpolated($"[grey]{choice.Note}[/]");
        return choice.Tokenizer;
    }

    /// <summary>
    /// Opens the corpus for <paramref name="stage"/>: a text file (tokenizing on first use, with a progress bar) or a
    /// NeoX dataset (checked against the tokenizer's vocabulary; bits per byte are then unknown).
    /// </summary>
    public TokenCorpus OpenCorpus(StageInfo stage, string? data, string? tokenizerJson, string? cache)
    {
        var path = DataPath(data);
        var tokenizer = Tokenizer(stage, tokenizerJson);
        if (NeoXDataset.PrefixOf(path) is { } prefix)
        {
            var dataset = TokenCorpus.OpenNeoX(prefix, tokenizer);
            var info = dataset.Dataset!;
            Console.MarkupLineInterpolated(
                $"[grey]data: NeoX dataset {prefix} ({info.Documents:N0} documents, {info.DTypeName}): {dataset.Count:N0} tokens ({dataset.Train.Length:N0} train, {dataset.Validation.Length:N0} validation, {dataset.Test.Length:N0} test); pre-tokenized, so bits per byte are unknown[/]");
            return dataset;
        }
        var directory = CacheDirectory(cache);
        var corpus = Console.Progress().AutoClear(false).Columns(ProgressColumns()).Start(context =>
        {
            var task = context.AddTask($"tokenizing {Markup.Escape(Path.GetFileName(path))}", maxValue: 1);
            var opened = TokenCorpus.Open(path, tokenizer, directory, new SyncProgress(v => task.Value = v));
            task.Value = 1;
            return opened;
        });
        Console.MarkupLineInterpolated(
            $"[grey]data: {path}: {corpus.Count:N0} tokens ({corpus.Train.Length:N0} train, {corpus.Validation.Length:N0} validation, {corpus.Test.Length:N0} test), {(corpus.WasBuilt ? "tokenized into" : "cached in")} {corpus.CachePath}[/]");
        return corpus;
    }

    /// <summary>Tokenizes a text or JSON-lines file into a NeoX dataset at <paramref name="prefix"/>, with a progress bar.</summary>
    public NeoXDatasetInfo ExportDataset(string input, ITextTokenizer tokenizer, string prefix)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(prefix)) is { } folder) Directory.CreateDirectory(folder);
        return Console.Progress().AutoClear(false).Columns(ProgressColumns()).Start(context =>
        {
            var task = context.AddTask($"tokenizing {Markup.Escape(Path.GetFileName(input))}", maxValue: 1);
            return NeoXDataset.FromText(input, tokenizer, prefix, new SyncProgress(v => task.Value = v));
        });
    }

    /// <summary>The columns of every progress display.</summary>
    public static ProgressColumn[] ProgressColumns() =>
        [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn()];

    /// <summary>Reads a checkpoint's metadata, refusing a missing file or one of a family this application lacks.</summary>
    public static (CheckpointMetadata Metadata, FamilyRegistration Family, StageRegistration Stage) Describe(string path)
    {
        RequireFile(path, "checkpoint");
        var metadata = Checkpoint.ReadMetadata(path);
        var family = ModelRegistry.Families.FirstOrDefault(f => string.Equals(f.Name, metadata.Family, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException($"{path} is a checkpoint of family '{metadata.Family}', which this application does not include (it has: {KnownFamilies()})");
        var stage = family.Stages.FirstOrDefault(s => s.Info.Name == metadata.Stage)
            ?? throw new CliException($"{path} is a checkpoint of {metadata.Family}/{metadata.Stage}, but family {family.Name} has no such stage (stages: {string.Join(", ", family.Stages.Select(s => s.Info.Name))})");
        return (metadata, family, stage);
    }

    /// <summary>
    /// Loads a checkpoint into a new model of its stage, placed on <paramref name="target"/> first (tensors are read one at
    /// a time into it). For evaluation and sampling (<paramref name="inferenceOnly"/>), the model is then prepared for
    /// inference: a reduced precision's weights are converted once instead of at every call.
    /// </summary>
    public static LoadedCheckpoint Load(string path, ComputeTarget target, bool inferenceOnly = false)
    {
        var (metadata, family, stage) = Describe(path);
        var model = stage.Create().Place(target);
        try
        {
            Checkpoint.Load(path, model, metadata.Family, metadata.Stage);
            if (inferenceOnly) model.PrepareForInference();
            return new LoadedCheckpoint(path, metadata, family, stage, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static void RequireFile(string path, string what)
    {
        if (!File.Exists(path)) throw new CliException($"{what} '{path}' does not exist");
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
