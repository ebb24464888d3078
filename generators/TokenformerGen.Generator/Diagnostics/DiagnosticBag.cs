using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using TokenformerGen.Generator.Plumbing;

namespace TokenformerGen.Generator.Diagnostics;

/// <summary>
/// Collects the diagnostics of one spec file, turning character ranges into file/line/column
/// locations with the file's own <see cref="SourceText"/> (so lines agree with the compiler's).
/// Every stage reports here and keeps going, so all errors of a file arrive in one build.
/// </summary>
internal sealed class DiagnosticBag
{
    private readonly List<DiagnosticInfo> _items = new();
    private readonly HashSet<DiagnosticInfo> _seen = new();

    public DiagnosticBag(string filePath, SourceText text)
    {
        FilePath = filePath;
        Text = text;
    }

    public string FilePath { get; }

    public SourceText Text { get; }

    public bool HasErrors { get; private set; }

    public void Report(DiagnosticDescriptor descriptor, SourceRange range, params object[] args)
    {
        // A value reached through an alias or merge key is reported once, at its definition.
        var info = DiagnosticInfo.Create(descriptor, Locate(range), args);
        if (_seen.Add(info))
        {
            _items.Add(info);
            HasErrors |= descriptor.DefaultSeverity == DiagnosticSeverity.Error;
        }
    }

    /// <summary>Reports at the first line of <paramref name="range"/> (used for whole mappings).</summary>
    public void ReportAtHead(DiagnosticDescriptor descriptor, SourceRange range, params object[] args)
        => Report(descriptor, Head(range), args);

    public SourceRange Head(SourceRange range)
    {
        var start = Clamp(range.Start);
        var line = Text.Lines.GetLineFromPosition(start);
        return new SourceRange(start, System.Math.Max(start, System.Math.Min(Clamp(range.End), line.End)));
    }

    /// <summary>1-based line number of a range, for messages that refer to another place.</summary>
    public int LineOf(SourceRange range) => Text.Lines.GetLinePosition(Clamp(range.Start)).Line + 1;

    public LocationInfo Locate(SourceRange range)
    {
        var start = Clamp(range.Start);
        var end = System.Math.Max(start, Clamp(range.End));
        var span = TextSpan.FromBounds(start, end);
        return new LocationInfo(FilePath, span, Text.Lines.GetLinePositionSpan(span));
    }

    public EquatableArray<DiagnosticInfo> ToEquatableArray() => _items.ToEquatableArray();

    public IReadOnlyList<DiagnosticInfo> Items => _items;

    private int Clamp(int position) => position < 0 ? 0 : position > Text.Length ? Text.Length : position;
}
