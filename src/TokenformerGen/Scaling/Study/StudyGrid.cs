using System.Globalization;
using TokenformerGen.Modules;

namespace TokenformerGen.Scaling.Study;

/// <summary>A seed pair of a study: initialisation (and new rows at growth) and the order of training windows.</summary>
public sealed record SeedPair(long Seed, long DataSeed)
{
    /// <summary>The pairs a study takes the first N of; the first is <c>run</c>'s default.</summary>
    public static IReadOnlyList<SeedPair> Standard { get; } =
        [new(1234, 1), new(7, 2), new(99, 3), new(2024, 4), new(31337, 5), new(42, 6), new(314, 7), new(2718, 8)];

    /// <summary><c>1234/1</c>.</summary>
    public override string ToString() => FormattableString.Invariant($"{Seed}/{DataSeed}");
}

/// <summary>One setting of a study: a budget scale and a seed pair, run in its own run folder.</summary>
/// <param name="Scale">Multiplies every stage's token budget.</param>
/// <param name="Seeds">The seed pair.</param>
public sealed record StudySetting(double Scale, SeedPair Seeds)
{
    /// <summary>How a child process is told which setting to run: <c>SCALE/SEED/DATA-SEED</c>.</summary>
    public string Key => FormattableString.Invariant($"{ScaleText(Scale)}/{Seeds.Seed}/{Seeds.DataSeed}");

    /// <summary>Its run folder inside the study folder: <c>scale-X/seed-S-D</c>.</summary>
    public string FolderName => Path.Combine($"scale-{ScaleText(Scale)}", FormattableString.Invariant($"seed-{Seeds.Seed}-{Seeds.DataSeed}"));

    /// <summary>The schedule options of this setting: <paramref name="options"/> with its scale and seeds.</summary>
    public ScheduleOptions Apply(ScheduleOptions options) => options with { BudgetScale = Scale, Seed = Seeds.Seed, DataSeed = Seeds.DataSeed };

    /// <summary>A budget scale as folder names and keys spell it: the shortest exact decimal.</summary>
    public static string ScaleText(double scale) => scale.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>
/// A study: a family's schedule and its from-scratch references run over budget scales × seed pairs, every setting an
/// ordinary resumable run folder inside one study folder. The scales double as scratch multipliers: the compute-matched
/// baseline of the same seed at scale k·s is the reference trained with its own warmup and cosine at k× the budget of
/// scale s (<see cref="StudyFigures"/>).
/// </summary>
/// <param name="Scales">Budget scales, in the order given.</param>
/// <param name="Seeds">Seed pairs.</param>
public sealed record StudyGrid(IReadOnlyList<double> Scales, IReadOnlyList<SeedPair> Seeds)
{
    /// <summary>The study folder's identity format.</summary>
    public const string Format = "tokenformer-gen/study/1";

    /// <summary>Every setting, scale by scale.</summary>
    public IReadOnlyList<StudySetting> Settings => Scales.SelectMany(scale => Seeds.Select(pair => new StudySetting(scale, pair))).ToList();

    /// <summary>
    /// A study folder's identity: the run folders' identity without the seeds and the budget scale, which vary inside it,
    /// so the same study with more seeds or scales extends its folder and anything else that changes a result is refused.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Identity(FamilyRegistration family, ScheduleOptions options, string data)
    {
        var identity = new SortedDictionary<string, string>(ScheduleRunner.Identity(family, options, data).ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);
        foreach (var key in new[] { "seed", "data_seed", "budget_scale" }) identity.Remove(key);
        identity["format"] = Format;
        return identity;
    }
}
