using System.Globalization;
using System.Linq;
using System.Text;
using TokenformerGen.Declarations;

namespace TokenformerGen.Generator.Emit;

/// <summary>C# literals, culture-invariant and exact.</summary>
internal static class Literals
{
    /// <summary>A choice's spellings for a doc comment: <c>&lt;c&gt;a&lt;/c&gt;, &lt;c&gt;b&lt;/c&gt; or &lt;c&gt;c&lt;/c&gt;</c>.</summary>
    public static string CodeList<T>(SpecChoice<T> choice)
        where T : struct
    {
        var names = choice.Names.Select(n => $"<c>{n}</c>").ToList();
        return names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[names.Count - 1];
    }

    /// <summary>An integer with '_' thousands separators: <c>151_881_216</c>.</summary>
    public static string Integer(long value)
    {
        var digits = value.ToString(CultureInfo.InvariantCulture);
        var sign = digits.StartsWith("-") ? "-" : string.Empty;
        digits = digits.TrimStart('-');
        var builder = new StringBuilder(sign);
        for (var i = 0; i < digits.Length; i++)
        {
            if (i > 0 && (digits.Length - i) % 3 == 0)
            {
                builder.Append('_');
            }

            builder.Append(digits[i]);
        }

        return builder.ToString();
    }

    /// <summary>A double that round-trips exactly, always with a '.' or exponent: <c>8.0</c>, <c>0.0006</c>, <c>1E-05</c>.</summary>
    public static string Double(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? text : text + ".0";
    }

    public static string Boolean(bool value) => value ? "true" : "false";

    /// <summary>A regular string literal; escapes quotes, backslashes, control and line-separator characters.</summary>
    public static string String(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\0': builder.Append("\\0"); break;
                default:
                    if (c < 0x20 || c == 0x7F || c == 0x85 || c == 0x2028 || c == 0x2029 || char.IsSurrogate(c) || c == 0xFEFF)
                    {
                        builder.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>Text for an XML doc comment: one line, &amp;, &lt; and &gt; escaped.</summary>
    public static string Xml(string value)
        => Comment(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    /// <summary>Text safe inside a <c>//</c> comment: control and line-break characters become '?'.</summary>
    public static string Comment(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(c < 0x20 || c == 0x7F || c == 0x85 || c == 0x2028 || c == 0x2029 || char.IsSurrogate(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
