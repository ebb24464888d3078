using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace TokenformerGen.Generator.Plumbing;

/// <summary>
/// A position in a spec file, as plain values: a cached model must not hold a
/// <see cref="Location"/> (it can root a syntax tree), so this is turned into one only when a
/// diagnostic is reported.
/// </summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);
}
