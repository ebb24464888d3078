namespace TokenformerGen.Generator.Plumbing;

/// <summary>A character range <c>[Start, End)</c> in a spec file's text.</summary>
internal readonly record struct SourceRange(int Start, int End)
{
    public static readonly SourceRange FileStart = new(0, 0);
}
