using System.Text;

namespace TokenformerGen.Text.ZeroShot;

/// <summary>
/// The few Python <c>str</c> operations lm-evaluation-harness's task code applies to text, with Python's definitions
/// (its whitespace, its code-point length, its <c>capitalize</c>), since .NET's differ at the edges.
/// </summary>
public static class PythonText
{
    /// <summary>
    /// Python's <c>str.isspace</c> for one UTF-16 unit: .NET's <see cref="char.IsWhiteSpace(char)"/> plus U+001C–U+001F,
    /// which Python counts as whitespace (bidirectional class B or S) and .NET does not.
    /// </summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    /// <summary>Python's <c>s.strip()</c>.</summary>
    public static string Strip(string s) => RStrip(LStrip(s));

    /// <summary>Python's <c>s.rstrip()</c>.</summary>
    public static string RStrip(string s)
    {
        var end = s.Length;
        while (end > 0 && IsSpace(s[end - 1])) end--;
        return s[..end];
    }

    private static string LStrip(string s)
    {
        var start = 0;
        while (start < s.Length && IsSpace(s[start])) start++;
        return s[start..];
    }

    /// <summary>Python's <c>len(s)</c>: code points, so a character outside the BMP counts once (not as two UTF-16 units).</summary>
    public static int Length(string s)
    {
        var count = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            count++;
        }
        return count;
    }

    /// <summary>
    /// Python 3.8+'s <c>s.capitalize()</c>: the first character in title case, the rest in lower case, with the full
    /// mappings Python applies that simple case mapping lacks (ß → "Ss" first, İ → "i̇" later, a word-final Σ → ς).
    /// </summary>
    public static string Capitalize(string s)
    {
        if (s.Length == 0) return s;
        var result = new StringBuilder(s.Length + 1);
        var first = char.IsHighSurrogate(s[0]) && s.Length > 1 && char.IsLowSurrogate(s[1]) ? 2 : 1;
        result.Append(TitleCase(s[..first]));
        for (var i = first; i < s.Length; i++)
        {
            var c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Append(Rune.ToLowerInvariant(new Rune(c, s[++i])).ToString());
                continue;
            }
            result.Append(c switch
            {
                '\u0130' => "i\u0307",
                '\u03A3' => FinalSigma(s, i) ? "\u03C2" : "\u03C3",
                _ => char.ToLowerInvariant(c).ToString(),
            });
        }
        return result.ToString();
    }

    // Unicode's Final_Sigma condition, as Python applies it: a cased letter before, none after.
    private static bool FinalSigma(string s, int at)
    {
        static bool Cased(char c) => char.IsLetter(c) && (char.IsUpper(c) || char.IsLower(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.TitlecaseLetter);
        var before = at > 0 && Cased(s[at - 1]);
        var after = at + 1 < s.Length && Cased(s[at + 1]);
        return before && !after;
    }

    private static string TitleCase(string first) => first switch
    {
        // The Latin digraphs have a title-case form of their own; ß and the Latin ligatures title-case to two letters.
        "\u01C4" or "\u01C5" or "\u01C6" => "\u01C5",
        "\u01C7" or "\u01C8" or "\u01C9" => "\u01C8",
        "\u01CA" or "\u01CB" or "\u01CC" => "\u01CB",
        "\u01F1" or "\u01F2" or "\u01F3" => "\u01F2",
        "\u00DF" => "Ss",
        "\uFB00" => "Ff",
        "\uFB01" => "Fi",
        "\uFB02" => "Fl",
        "\uFB03" => "Ffi",
        "\uFB04" => "Ffl",
        _ when first.Length == 2 => Rune.ToUpperInvariant(Rune.GetRuneAt(first, 0)).ToString(),
        _ => char.ToUpperInvariant(first[0]).ToString(),
    };
}
