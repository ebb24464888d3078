using System.Globalization;
using System.Text;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>A figure's table, printed as Markdown so it can go into docs/benchmarks.md as is.</summary>
internal sealed class FigureTable(string title, params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public string Title { get; } = title;

    public List<string> Notes { get; } = [];

    public void Add(params object[] cells)
        => _rows.Add(cells.Select(Format).ToArray());

    public void Print(TextWriter output)
    {
        var text = new StringBuilder();
        text.AppendLine().AppendLine($"### {Title}").AppendLine();
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Select(r => i < r.Length ? r[i].Length : 0).DefaultIfEmpty(0).Max())).ToArray();
        string Line(IReadOnlyList<string> cells) => "| " + string.Join(" | ", widths.Select((w, i) => (i < cells.Count ? cells[i] : "").PadRight(w))) + " |";
        text.AppendLine(Line(headers));
        text.AppendLine("| " + string.Join(" | ", widths.Select(w => new string('-', w))) + " |");
        foreach (var row in _rows) text.AppendLine(Line(row));
        if (Notes.Count > 0)
        {
            text.AppendLine();
            foreach (var note in Notes) text.AppendLine($"- {note}");
        }
        output.Write(text.ToString());
        output.Flush();
    }

    public static string Format(object cell) => cell switch
    {
        double d when double.IsNaN(d) => "–",
        double d when Math.Abs(d) >= 1000 => d.ToString("N0", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 100 => d.ToString("F1", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 1 => d.ToString("F2", CultureInfo.InvariantCulture),
        double d => d.ToString("G3", CultureInfo.InvariantCulture),
        long l => l.ToString("N0", CultureInfo.InvariantCulture),
        int i => i.ToString("N0", CultureInfo.InvariantCulture),
        _ => Convert.ToString(cell, CultureInfo.InvariantCulture) ?? "",
    };

    public static string Ratio(double ratio) => ratio.ToString("F3", CultureInfo.InvariantCulture) + "×";

    public static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture) + "%";

    public static string Mb(double bytes) => (bytes / (1 << 20)).ToString("N0", CultureInfo.InvariantCulture) + " MB";
}
