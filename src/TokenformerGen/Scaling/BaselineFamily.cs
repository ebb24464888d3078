using TokenformerGen.Data;
using TokenformerGen.Modules;

namespace TokenformerGen.Scaling;

/// <summary>What a baseline family trained at another run's compute.</summary>
/// <param name="Family">The baseline family's name.</param>
/// <param name="Progressive">Its own schedule grown stage by stage (null for a family of one stage, which has nothing to grow).</param>
/// <param name="Scratch">Its stages from scratch (null with <see cref="ScratchBaseline.None"/>).</param>
public sealed record BaselineResult(string Family, ScheduleResult? Progressive, ScheduleResult? Scratch);

/// <summary>
/// Another family as the reference of a run, trained at exactly that run's compute: a Transformer twin from scratch
/// (<c>TinyKjvTransformer</c>), or a grown baseline (<c>TinyKjvStacked</c>) whose own schedule is lengthened in
/// proportion to the same FLOPs and whose stages are trained from scratch as the run's <see cref="ScratchBaseline"/>
/// says (the largest, or every one for the frontier). It reads the same data stream, with its own batch and learning
/// rates, and lives in a run folder of its own inside the run's (<see cref="FolderName"/>).
/// </summary>
/// <param name="family">The baseline family.</param>
/// <param name="learningRate">Its peak learning rate in every stage (null: the run's <see cref="ScheduleOptions.PeakLearningRate"/>, else its spec's): each side gets its own best.</param>
public sealed class BaselineFamily(FamilyRegistration family, double? learningRate = null)
{
    /// <summary>The baseline family.</summary>
    public FamilyRegistration Family { get; } = family;

    /// <summary>Its peak learning rate in every stage, when it is not the run's.</summary>
    public double? LearningRate { get; } = learningRate;

    /// <summary>Its run folder inside the folder of the run it is matched to.</summary>
    public string FolderName => FolderOf(Family.Name);

    private const string FolderPrefix = "baseline-";

    /// <summary>The run folder of the baseline family named <paramref name="family"/> inside a run's: <c>baseline-FAMILY</c>.</summary>
    public static string FolderOf(string family) => FolderPrefix + family;

    /// <summary>The families whose baseline folders <paramref name="runDirectory"/> holds (by folder name, in ordinal order).</summary>
    public static IReadOnlyList<string> FamiliesIn(string runDirectory)
        => Directory.EnumerateDirectories(runDirectory, FolderPrefix + "*").Select(d => Path.GetFileName(d)![FolderPrefix.Length..])
                    .Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Why this family cannot be the reference of <paramref name="compared"/> run with <paramref name="options"/> (it must read
    /// the same tokens: same tokenizer and vocabulary, a context at least the run's), or null when it can.
    /// </summary>
    public string? Refusal(FamilyRegistration compared, ScheduleOptions options)
    {
        var (mine, theirs) = (Family.Stages[0].Info.Architecture, compared.Stages[0].Info.Architecture);
        var context = options.Context ?? theirs.Context;
        if (Family.Name == compared.Name) return $"baseline family {Family.Name} is the family it would be compared with";
        if (mine.Tokenizer != theirs.Tokenizer || mine.Vocabulary != theirs.Vocabulary)
            return $"baseline family {Family.Name} reads other tokens ({mine.Tokenizer} tokenizer, vocabulary {mine.Vocabulary}) than {compared.Name} ({theirs.Tokenizer}, {theirs.Vocabulary})";
        if (options.Context is null && mine.Context != theirs.Context || mine.Context < context)
            return $"baseline family {Family.Name} has context {mine.Context}, {compared.Name} trains at {context}: give both the same context";
        if (Family.Stages.Any(s => s.Info.Budget is null))
            return $"baseline family {Family.Name} has a stage without a training budget (a train: section)";
        if (!Grows && options.Scratch == ScratchBaseline.None)
            return $"baseline family {Family.Name} has one stage, which only trains from scratch, and --scratch none trains nothing from scratch: drop --scratch none";
        if (options.Scratch == ScratchBaseline.All)
            return "a baseline family is matched to the whole compute of the run; --scratch all compares each stage with the run up to it: use largest or frontier";
        return null;
    }

    /// <summary>The options of the baseline's runs: the run's, matched to <paramref name="flops"/>, with the baseline's own growth policies and learning rate.</summary>
    public ScheduleOptions Matched(ScheduleOptions options, double flops)
        => options with { MatchedFlops = flops, Policy = null, PeakLearningRate = LearningRate ?? options.PeakLearningRate };

    /// <summary>Whether it has a schedule to grow (a family of one stage only trains from scratch).</summary>
    public bool Grows => Family.Edges.Count > 0;

    /// <summary>The runner of the baseline at <paramref name="flops"/> (plans only, without a folder or observer).</summary>
    public ScheduleRunner Plan(IBatchSource data, ScheduleOptions options, double flops) => new(Family, data, Matched(options, flops));

    /// <summary>The stages it trains at <paramref name="flops"/>, in order: its grown schedule if it <see cref="Grows"/>, then its stages from scratch.</summary>
    public IReadOnlyList<StagePlan> Stages(IBatchSource data, ScheduleOptions options, double flops)
    {
        var plan = Plan(data, options, flops);
        return Grows ? [.. plan.Progressive, .. plan.Scratch.Where(p => !p.SharedWithProgressive)] : plan.Scratch;
    }

    /// <summary>The identity of its run folder.</summary>
    public IReadOnlyDictionary<string, string> Identity(ScheduleOptions options, double flops, string data) => ScheduleRunner.Identity(Family, Matched(options, flops), data);

    /// <summary>
    /// Runs (or finds finished, or resumes) the baseline at <paramref name="flops"/> training FLOPs in its folder inside the
    /// run folder <paramref name="runDirectory"/>: its grown schedule if it <see cref="Grows"/>, then its stages from scratch.
    /// </summary>
    /// <exception cref="ArgumentException">The family cannot be this run's reference (<see cref="Refusal"/>).</exception>
    /// <exception cref="RunFolderException">Its folder holds another run or is in use.</exception>
    public BaselineResult Run(FamilyRegistration compared, IBatchSource data, string dataIdentity, ScheduleOptions options, double flops,
                              string runDirectory, IScheduleObserver? observer = null, CancellationToken cancellation = default)
    {
        if (Refusal(compared, options) is { } refusal) throw new ArgumentException(refusal, nameof(compared));
        using var folder = RunFolder.Claim(Path.Combine(runDirectory, FolderName), Identity(options, flops, dataIdentity));
        var runner = new ScheduleRunner(Family, data, Matched(options, flops), observer, folder);
        var progressive = Grows ? runner.RunProgressive(cancellation) : null;
        var scratch = options.Scratch == ScratchBaseline.None ? null : runner.RunScratch(progressive, cancellation);
        return new BaselineResult(Family.Name, progressive, scratch);
    }
}
