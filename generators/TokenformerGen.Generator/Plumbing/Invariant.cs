using System.Globalization;

namespace TokenformerGen.Generator.Plumbing;

/// <summary>Culture-invariant number text for messages and generated code.</summary>
internal static class Invariant
{
    /// <summary>Shortest text that round-trips the double.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
