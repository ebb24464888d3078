using System.Globalization;
using TokenformerGen.Checkpoints;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Handoff;
using TokenformerGen.Scaling;
using TokenformerGen.Scaling.Study;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Infrastructure;

/// <summary>Values of options whose spelling is ours (snake_case policies, id lists).</summary>
internal static class OptionParsing
{
    /// <summary><c>zero_keys</c> or <c>random</c> (case and <c>_</c>/<c>-</c> ignored); null stays null.</summary>
    public static GrowthPolicy? Policy(string? text) => text is null ? null : Enum<GrowthPolicy>("--policy", text, SpecChoices.Growth.Join("|"));

    /// <summary>How option help lists the growth policies: help texts are constants, so this one is tested equal to <see cref="SpecChoices.Growth"/>.</summary>
    public const string PolicyChoices = "zero_keys|random";

    /// <summary><c>keep</c>, <c>keep-zero</c> or <c>reset</c>; null stays null.</summary>
    public static OptimizerGrowthMode? OptimizerGrowth(string? text) => text is null ? null : Enum<OptimizerGrowthMode>("--optimizer-growth", text, "keep|keep-zero|reset");

    /// <summary><c>restart</c>, <c>global</c> or <c>rewarm</c>; null stays null.</summary>
    public static StageLearningRates? LearningRates(string? text) => text is null ? null : Enum<StageLearningRates>("--lr-schedule", text, "restart|global|rewarm");

    /// <summary><c>largest</c>, <c>all</c> or <c>none</c>; null stays null.</summary>
    public static ScratchBaseline? Scratch(string? text) => text is null ? null : Enum<ScratchBaseline>("--scratch", text, "largest|all|frontier|none");

    /// <summary><c>continue</c> or <c>grow</c>.</summary>
    public static NeoXRoute Route(string text) => Enum<NeoXRoute>("--route", text, "continue|grow");

    /// <summary>
    /// <c>--seeds</c>: N, the first N of <paramref name="known"/>, or a comma-separated list of SEED/DATA-SEED pairs (no pair twice).
    /// </summary>
    public static IReadOnlyList<SeedPair> SeedPairs(string text, IReadOnlyList<SeedPair> known)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            return count >= 1 && count <= known.Count ? known.Take(count).ToList() : throw new CliException($"--seeds {text}: give 1..{known.Count}, or a list of SEED/DATA-SEED pairs");
        var pairs = new List<SeedPair>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var halves = part.Split('/');
            if (halves.Length != 2 || !long.TryParse(halves[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed)
                || !long.TryParse(halves[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var dataSeed))
                throw new CliException($"--seeds: '{part}' is not SEED/DATA-SEED (e.g. 1234/1)");
            pairs.Add(new SeedPair(seed, dataSeed));
        }
        return pairs.Distinct().Count() == pairs.Count ? pairs : throw new CliException($"--seeds {text} names a pair twice");
    }

    /// <summary><c>--scales</c>: comma-separated positive numbers, e.g. <c>1,2,4</c> (no scale twice).</summary>
    public static IReadOnlyList<double> Scales(string text)
    {
        var scales = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
            scales.Add(double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) && scale > 0 && double.IsFinite(scale)
                ? scale : throw new CliException($"--scales: '{part}' is not a positive number"));
        return scales.Distinct().Count() == scales.Count ? scales : throw new CliException($"--scales {text} names a scale twice");
    }

    /// <summary>Comma-separated token ids, e.g. <c>1,2,3</c>.</summary>
    public static long[] TokenIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ids = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new CliException($"--tokens: '{parts[i]}' is not a token id (give comma-separated integers, e.g. --tokens 1,2,3)");
        return ids;
    }

    private static T Enum<T>(string option, string text, string choices) where T : struct, Enum
    {
        static string Normal(string s) => s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
        foreach (var value in System.Enum.GetValues<T>())
            if (Normal(value.ToString()) == Normal(text)) return value;
        throw new CliException($"{option}: '{text}' is not one of {choices}");
    }
}
