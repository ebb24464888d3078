using System.Globalization;

namespace TokenformerGen.Cli.Infrastructure;

/// <summary>Numbers as people read them in tables: 1.2M parameters, 3.4e13 FLOPs.</summary>
internal static class Numbers
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>1,234 → "1.2K", 12,345,678 → "12.3M".</summary>
    public static string Short(double value)
    {
        var abs = Math.Abs(value);
        return abs switch
        {
            >= 1e12 => (value / 1e12).ToString("0.##", Invariant) + "T",
            >= 1e9 => (value / 1e9).ToString("0.##", Invariant) + "B",
            >= 1e6 => (value / 1e6).ToString("0.##", Invariant) + "M",
            >= 1e3 => (value / 1e3).ToString("0.##", Invariant) + "K",
            _ => value.ToString("0.##", Invariant),
        };
    }

    /// <summary>FLOPs in scientific notation, e.g. "3.41e13".</summary>
    public static string Flops(double value) => value.ToString("0.00e0", Invariant);

    /// <summary>τ as the √n it is taken from when it is one ("√32"), else to 4 digits; "√32/√32/√128" for a stage's three.</summary>
    public static string Tau(double tau)
        => Math.Abs(tau * tau - Math.Round(tau * tau)) < 1e-6 ? $"√{Math.Round(tau * tau).ToString("0", Invariant)}" : tau.ToString("G4", Invariant);

    /// <summary>The τ of a stage's qkv, proj and ffn Pattentions: "√32/√32/√128".</summary>
    public static string Taus(Families.PattentionSizes<double> taus) => $"{Tau(taus.Qkv)}/{Tau(taus.Proj)}/{Tau(taus.Ffn)}";

    /// <summary>Thousands separators.</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>A loss with 4 decimals.</summary>
    public static string Loss(double value) => value.ToString("F4", Invariant);

    /// <summary>A measured loss with 6 decimals (the precision growth checks need), or "-" when not measured.</summary>
    public static string Loss6(double? value) => value is double v ? v.ToString("F6", Invariant) : "-";

    /// <summary>A signed change in scientific notation, e.g. "+7.5e-8", exactly "0" for none, or "-" when not measured.</summary>
    public static string Delta(double? value) => value is double v ? v.ToString("+0.0e0;-0.0e0;0", Invariant) : "-";

    /// <summary>What a growth did to the measured loss: "validation loss 2.370226 → 2.370226 (Δ 0)".</summary>
    public static string LossChange(Growth.GrowthReport report)
        => $"validation loss {Loss6(report.LossBefore)} → {Loss6(report.LossAfter)} (Δ {Delta(report.Delta)})";

    /// <summary>Seconds with one decimal.</summary>
    public static string Seconds(double value) => value.ToString("F1", Invariant);

    /// <summary>Invariant "R" formatting.</summary>
    public static string Exact(double value) => value.ToString("R", Invariant);
}
