using System.Globalization;
using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Scaling;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Infrastructure;

/// <summary>Values of options whose spelling is ours (snake_case policies, id lists).</summary>
internal static class OptionParsing
{
    /// <summary><c>zero_keys</c> or <c>random</c> (case and <c>_</c>/<c>-</c> ignored); null stays null.</summary>
    public static GrowthPolicy? Policy(string? text) => text is null ? null : Enum<GrowthPolicy>("--policy", text, "zero_keys|random");

    /// <summary><c>keep</c>, <c>keep-zero</c> or <c>reset</c>; null stays null.</summary>
    public static OptimizerGrowthMode? OptimizerGrowth(string? text) => text is null ? null : Enum<OptimizerGrowthMode>("--optimizer-growth", text, "keep|keep-zero|reset");

    /// <summary><c>restart</c>, <c>global</c> or <c>rewarm</c>; null stays null.</summary>
    public static StageLearningRates? LearningRates(string? text) => text is null ? null : Enum<StageLearningRates>("--lr-schedule", text, "restart|global|rewarm");

    /// <summary><c>largest</c>, <c>all</c> or <c>none</c>; null stays null.</summary>
    public static ScratchBaseline? Scratch(string? text) => text is null ? null : Enum<ScratchBaseline>("--scratch", text, "largest|all|none");

    /// <summary><c>continue</c> or <c>grow</c>.</summary>
    public static NeoXRoute Route(string text) => Enum<NeoXRoute>("--route", text, "continue|grow");

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
