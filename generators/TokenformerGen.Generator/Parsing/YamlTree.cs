using System.Collections.Generic;
using TokenformerGen.Generator.Plumbing;

namespace TokenformerGen.Generator.Parsing;

/// <summary>
/// A YAML node with its exact source range. Aliases are resolved to the anchored node (shared,
/// so an aliased value keeps the location where it is written) and merge keys are already applied.
/// </summary>
internal abstract class YNode
{
    protected YNode(SourceRange range) => Range = range;

    public SourceRange Range { get; }
}

/// <summary>A scalar; <see cref="IsPlain"/> is false for quoted and block scalars (always strings).</summary>
internal sealed class YScalar : YNode
{
    public YScalar(string value, bool isPlain, SourceRange range)
        : base(range)
    {
        Value = value;
        IsPlain = isPlain;
    }

    public string Value { get; }

    public bool IsPlain { get; }
}

internal sealed class YSequence : YNode
{
    public YSequence(IReadOnlyList<YNode> items, SourceRange range)
        : base(range) => Items = items;

    public IReadOnlyList<YNode> Items { get; }
}

internal sealed class YMapping : YNode
{
    public YMapping(IReadOnlyList<YEntry> entries, SourceRange range)
        : base(range) => Entries = entries;

    public IReadOnlyList<YEntry> Entries { get; }
}

/// <summary>A node whose error has already been reported; readers skip it silently.</summary>
internal sealed class YInvalid : YNode
{
    public YInvalid(SourceRange range)
        : base(range)
    {
    }
}

internal sealed class YEntry
{
    public YEntry(YScalar key, YNode value)
    {
        Key = key;
        Value = value;
    }

    public YScalar Key { get; }

    public YNode Value { get; }
}
