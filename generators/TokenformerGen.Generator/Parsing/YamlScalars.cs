using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace TokenformerGen.Generator.Parsing;

/// <summary>
/// How plain scalars are typed (the YAML 1.2 core schema, restricted): numbers are decimal with an
/// optional sign, fraction and exponent (<c>6e-4</c>, <c>6.0e-4</c>, <c>.5</c>); underscores may
/// separate digits (<c>2_000_000</c>); no hex, octal, <c>.inf</c> or <c>.nan</c>. Booleans are
/// <c>true</c>/<c>false</c> (also capitalised or upper case); null is empty, <c>~</c> or <c>null</c>.
/// Quoted and block scalars are always strings.
/// </summary>
internal static class YamlScalars
{
    private static readonly Regex NumberPattern = new(
        @"^[-+]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][-+]?\d+)?$",
        RegexOptions.CultureInvariant);

    public static bool IsNull(YScalar scalar)
        => scalar.IsPlain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";

    public static bool TryBoolean(YScalar scalar, out bool value)
    {
        value = false;
        if (!scalar.IsPlain)
        {
            return false;
        }

        switch (scalar.Value)
        {
            case "true" or "True" or "TRUE":
                value = true;
                return true;
            case "false" or "False" or "FALSE":
                return true;
            default:
                return false;
        }
    }

    public static bool LooksNumeric(YScalar scalar) => scalar.IsPlain && NumberPattern.IsMatch(scalar.Value);

    /// <summary>Parses an integer; <paramref name="tooLarge"/> is set when the literal cannot fit in 64 bits.</summary>
    public static bool TryInteger(YScalar scalar, out long value, out bool tooLarge)
    {
        value = 0;
        tooLarge = false;
        if (!LooksNumeric(scalar))
        {
            return false;
        }

        var text = scalar.Value.Replace("_", string.Empty);
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            // The grammar matched, so the only failure left is magnitude (beyond ±7.9e28).
            tooLarge = !IsTinyExponent(text);
            return false;
        }

        if (number != decimal.Truncate(number))
        {
            return false;
        }

        if (number > long.MaxValue || number < long.MinValue)
        {
            tooLarge = true;
            return false;
        }

        value = (long)number;
        return true;
    }

    /// <summary>Parses a finite number; <paramref name="tooLarge"/> is set when it overflows a double.</summary>
    public static bool TryNumber(YScalar scalar, out double value, out bool tooLarge)
    {
        value = 0;
        tooLarge = false;
        if (!LooksNumeric(scalar))
        {
            return false;
        }

        var text = scalar.Value.Replace("_", string.Empty);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value)
            || double.IsInfinity(value) || double.IsNaN(value))
        {
            value = 0;
            tooLarge = true;
            return false;
        }

        return true;
    }

    private static bool IsTinyExponent(string text)
    {
        var e = text.IndexOfAny(new[] { 'e', 'E' });
        return e >= 0 && e + 1 < text.Length && text[e + 1] == '-';
    }
}
