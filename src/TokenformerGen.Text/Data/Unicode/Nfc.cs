using System.Text;

namespace TokenformerGen.Text.Data.Unicode;

/// <summary>
/// Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition; UAX #15) from
/// tables generated into this assembly (<see cref="NfcTables"/>), so it composes the same on every platform: .NET's own
/// <see cref="string.Normalize()"/> returns the text unchanged under <c>InvariantGlobalization</c>, which this project
/// builds with.
/// </summary>
public static class Nfc
{
    /// <summary>The Unicode version of the tables (Python's <c>unicodedata</c> they were generated from).</summary>
    public const string UnicodeVersion = NfcTables.UnicodeVersion;

    // Hangul syllables decompose and compose arithmetically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int First, int Second)> Decompositions = ReadDecompositions(out Compositions);
    private static readonly Dictionary<long, int> Compositions;

    private static Dictionary<int, (int, int)> ReadDecompositions(out Dictionary<long, int> compositions)
    {
        var table = NfcTables.Decompositions;
        var decompositions = new Dictionary<int, (int, int)>(table.Length / 4);
        compositions = new Dictionary<long, int>(table.Length / 4);
        for (var i = 0; i < table.Length; i += 4)
        {
            decompositions[table[i]] = (table[i + 1], table[i + 2]);
            if (table[i + 3] == 1) compositions[Pair(table[i + 1], table[i + 2])] = table[i];
        }
        return decompositions;
    }

    private static long Pair(int first, int second) => ((long)first << 21) | (uint)second;

    /// <summary>The canonical combining class of <paramref name="codePoint"/> (0 for starters).</summary>
    public static int CombiningClass(int codePoint)
    {
        var ranges = NfcTables.CombiningClasses;
        int lo = 0, hi = ranges.Length / 3 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            if (codePoint < ranges[mid * 3]) hi = mid - 1;
            else if (codePoint > ranges[mid * 3 + 1]) lo = mid + 1;
            else return ranges[mid * 3 + 2];
        }
        return 0;
    }

    /// <summary>
    /// <paramref name="text"/> in NFC. Text below U+0300 throughout (ASCII, Latin-1 and the rest of Latin) is returned
    /// as it is, since nothing there decomposes differently or combines; an unpaired surrogate passes through unchanged.
    /// </summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var simple = true;
        foreach (var c in text)
            if (c >= '\u0300') { simple = false; break; }
        if (simple) return text;

        var points = new List<int>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                cp = char.ConvertToUtf32(text[i], text[++i]);
            Decompose(cp, points);
        }
        SortMarks(points);
        Compose(points);

        var result = new StringBuilder(points.Count);
        foreach (var cp in points)
            if (cp is >= 0xD800 and <= 0xDFFF) result.Append((char)cp);
            else result.Append(char.ConvertFromUtf32(cp));
        return result.ToString();
    }

    private static void Decompose(int cp, List<int> into)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            var s = cp - SBase;
            into.Add(LBase + s / NCount);
            into.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) into.Add(TBase + s % TCount);
            return;
        }
        if (!Decompositions.TryGetValue(cp, out var parts))
        {
            into.Add(cp);
            return;
        }
        Decompose(parts.First, into);
        if (parts.Second >= 0) Decompose(parts.Second, into);
    }

    // Canonical ordering: each run of non-starters sorted by combining class, stably.
    private static void SortMarks(List<int> points)
    {
        for (var i = 1; i < points.Count; i++)
        {
            var cc = CombiningClass(points[i]);
            if (cc == 0) continue;
            var j = i;
            while (j > 0 && CombiningClass(points[j - 1]) > cc)
            {
                (points[j - 1], points[j]) = (points[j], points[j - 1]);
                j--;
            }
        }
    }

    // Canonical composition: each character joins the last starter when nothing between them blocks it (a starter, or
    // a mark of the same or a higher class) and the pair has a primary composite.
    private static void Compose(List<int> points)
    {
        var starter = -1;
        var lastClass = 0;
        var length = 0;
        for (var i = 0; i < points.Count; i++)
        {
            var cp = points[i];
            var cc = CombiningClass(cp);
            if (starter >= 0 && (length == starter + 1 || (lastClass != 0 && lastClass < cc))
                && Composite(points[starter], cp) is int composite)
            {
                points[starter] = composite;
                continue;
            }
            if (cc == 0) starter = length;
            lastClass = cc;
            points[length++] = cp;
        }
        points.RemoveRange(length, points.Count - length);
    }

    private static int? Composite(int first, int second)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
            return first + (second - TBase);
        return Compositions.TryGetValue(Pair(first, second), out var composite) ? composite : null;
    }
}
