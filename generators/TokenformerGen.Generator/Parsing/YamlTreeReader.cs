using System;
using System.Collections.Generic;
using System.IO;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Plumbing;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace TokenformerGen.Generator.Parsing;

/// <summary>
/// Reads YAML text into a <see cref="YNode"/> tree with exact source ranges, from YamlDotNet's
/// event parser. It resolves aliases (an alias must follow its completed anchor, so trees are
/// acyclic), applies merge keys (<c>&lt;&lt;: *base</c> or <c>&lt;&lt;: [*a, *b]</c>; keys written in the
/// mapping win, then earlier merge sources), and reports duplicate keys, tags, complex keys,
/// extra documents and syntax errors instead of throwing.
/// </summary>
internal sealed class YamlTreeReader
{
    /// <summary>Deeper nesting than any spec needs; bounds recursion on hostile input.</summary>
    public const int MaxDepth = 64;

    private const string MergeKey = "<<";

    private readonly DiagnosticBag _bag;
    private readonly Dictionary<string, YNode> _anchors = new(StringComparer.Ordinal);

    private YamlTreeReader(DiagnosticBag bag) => _bag = bag;

    /// <summary>The document's root node, or <see langword="null"/> for an empty file or a syntax error.</summary>
    public static YNode? Read(string text, DiagnosticBag bag) => new YamlTreeReader(bag).ReadStream(text);

    private YNode? ReadStream(string text)
    {
        if (FindNonPrintable(text) is { } bad)
        {
            // YAML streams may not contain these; YamlDotNet does not always reject them cleanly.
            _bag.Report(
                DiagnosticDescriptors.YamlSyntaxError,
                new SourceRange(bad, bad + 1),
                $"the character U+{(int)text[bad]:X4} is not allowed in a YAML file");
            return null;
        }

        var parser = new TrackingParser(new Parser(new StringReader(text)));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
            {
                return null;
            }

            parser.Consume<DocumentStart>();
            var root = ReadNode(parser, 0);
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
            {
                _bag.Report(DiagnosticDescriptors.UnsupportedYaml, Range(second), "A second YAML document in one file");
            }

            return root;
        }
        catch (YamlException ex)
        {
            var start = (int)Math.Min(ex.Start.Index, int.MaxValue);
            var end = (int)Math.Min(Math.Max(ex.End.Index, ex.Start.Index), int.MaxValue);
            if (ex.Message.IndexOf("tab", StringComparison.OrdinalIgnoreCase) >= 0 && FindIndentingTab(text, start) is { } tab)
            {
                // YamlDotNet reports a tab in indentation where the scalar before it began (or at 1:1); the tab is the mistake.
                _bag.Report(DiagnosticDescriptors.YamlSyntaxError, new SourceRange(tab, tab + 1), "a tab character in indentation (YAML indents with spaces only)");
                return null;
            }

            _bag.Report(DiagnosticDescriptors.YamlSyntaxError, new SourceRange(start, end), Describe(ex));
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && ex.TargetSite?.DeclaringType?.Assembly == typeof(Parser).Assembly)
        {
            // YamlDotNet sometimes fails on malformed input with a non-YAML exception (found by the
            // fuzz test: InvalidOperationException from its plain-scalar scanner). It is still bad
            // YAML, reported where the parser stopped; exceptions from our own code stay TFG0999.
            var at = Index(parser.LastEnd);
            _bag.Report(DiagnosticDescriptors.YamlSyntaxError, new SourceRange(at, at), "the YAML parser could not read past this point");
            return null;
        }
    }

    private YNode ReadNode(IParser parser, int depth)
    {
        if (depth > MaxDepth)
        {
            var current = parser.Current!;
            _bag.Report(DiagnosticDescriptors.UnsupportedYaml, Range(current), $"Nesting deeper than {MaxDepth} levels");
            parser.SkipThisAndNestedEvents();
            return new YInvalid(Range(current));
        }

        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (_anchors.TryGetValue(alias.Value.Value, out var target))
            {
                return target;
            }

            _bag.Report(
                DiagnosticDescriptors.YamlSyntaxError,
                Range(alias),
                $"alias '*{alias.Value.Value}' refers to no anchor defined before it");
            return new YInvalid(Range(alias));
        }

        if (parser.TryConsume<Scalar>(out var scalar))
        {
            CheckTag(scalar.Tag, scalar);
            var isPlain = scalar.Style == ScalarStyle.Plain || scalar.Style == ScalarStyle.Any;
            return Register(scalar.Anchor, new YScalar(scalar.Value, isPlain, Range(scalar)));
        }

        if (parser.TryConsume<SequenceStart>(out var sequenceStart))
        {
            CheckTag(sequenceStart.Tag, sequenceStart);
            var items = new List<YNode>();
            SequenceEnd? sequenceEnd;
            while (!parser.TryConsume<SequenceEnd>(out sequenceEnd!))
            {
                items.Add(ReadNode(parser, depth + 1));
            }

            var range = new SourceRange(Index(sequenceStart.Start), Index(sequenceEnd!.End));
            return Register(sequenceStart.Anchor, new YSequence(items, range));
        }

        if (parser.TryConsume<MappingStart>(out var mappingStart))
        {
            CheckTag(mappingStart.Tag, mappingStart);
            return Register(mappingStart.Anchor, ReadMapping(parser, mappingStart, depth));
        }

        // Not reachable for a well-formed event stream; fail as a syntax error, not a crash.
        var unexpected = parser.Current!;
        throw new SemanticErrorException(unexpected.Start, unexpected.End, $"unexpected {unexpected.GetType().Name}");
    }

    private YMapping ReadMapping(IParser parser, MappingStart start, int depth)
    {
        var entries = new List<YEntry>();
        var seen = new Dictionary<string, YScalar>(StringComparer.Ordinal);
        var mergeSources = new List<YNode>();
        MappingEnd? end;
        while (!parser.TryConsume<MappingEnd>(out end!))
        {
            var key = ReadNode(parser, depth + 1);
            var value = ReadNode(parser, depth + 1);
            switch (key)
            {
                case YInvalid:
                    continue;
                case YScalar { IsPlain: true, Value: MergeKey }:
                    mergeSources.Add(value);
                    continue;
                case YScalar scalarKey when seen.TryGetValue(scalarKey.Value, out var first):
                    _bag.Report(DiagnosticDescriptors.DuplicateKey, scalarKey.Range, scalarKey.Value, _bag.LineOf(first.Range));
                    continue;
                case YScalar scalarKey:
                    seen.Add(scalarKey.Value, scalarKey);
                    entries.Add(new YEntry(scalarKey, value));
                    continue;
                default:
                    _bag.ReportAtHead(DiagnosticDescriptors.UnsupportedYaml, key.Range, "A key that is not a scalar");
                    continue;
            }
        }

        foreach (var source in mergeSources)
        {
            foreach (var mapping in MergeMappings(source))
            {
                foreach (var entry in mapping.Entries)
                {
                    if (!seen.ContainsKey(entry.Key.Value))
                    {
                        seen.Add(entry.Key.Value, entry.Key);
                        entries.Add(entry);
                    }
                }
            }
        }

        return new YMapping(entries, new SourceRange(Index(start.Start), Index(end!.End)));
    }

    private IEnumerable<YMapping> MergeMappings(YNode source)
    {
        switch (source)
        {
            case YMapping mapping:
                yield return mapping;
                break;
            case YSequence sequence:
                foreach (var item in sequence.Items)
                {
                    if (item is YMapping itemMapping)
                    {
                        yield return itemMapping;
                    }
                    else if (item is not YInvalid)
                    {
                        _bag.ReportAtHead(DiagnosticDescriptors.WrongType, item.Range, "Each source of a merge key '<<'", "a mapping", SpecReader.Describe(item));
                    }
                }

                break;
            case YInvalid:
                break;
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, source.Range, "A merge key '<<'", "a mapping or a list of mappings", SpecReader.Describe(source));
                break;
        }
    }

    private T Register<T>(AnchorName anchor, T node)
        where T : YNode
    {
        if (!anchor.IsEmpty)
        {
            _anchors[anchor.Value] = node;
        }

        return node;
    }

    private void CheckTag(TagName tag, ParsingEvent node)
    {
        if (!tag.IsEmpty && !tag.IsNonSpecific)
        {
            _bag.Report(DiagnosticDescriptors.UnsupportedYaml, Range(node), $"The tag '{tag.Value}'");
        }
    }

    /// <summary>The first character outside YAML's printable set (c-printable), or null.</summary>
    private static int? FindNonPrintable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\t' or '\n' or '\r' or '\u0085' || (c >= ' ' && c <= '~') || (c >= '\u00A0' && c <= '\uD7FF') || (c >= '\uE000' && c <= '\uFFFD'))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            return i;
        }

        return null;
    }

    /// <summary>The first tab in the leading whitespace of a line, from the line holding <paramref name="from"/> on, or null.</summary>
    private static int? FindIndentingTab(string text, int from)
    {
        var lineStart = from <= 0 ? 0 : text.LastIndexOf('\n', Math.Min(from, text.Length) - 1) + 1;
        for (var i = lineStart; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\t')
            {
                return i;
            }

            if (c != ' ')
            {
                var next = text.IndexOf('\n', i);   // skip the rest of the line: only leading whitespace indents
                if (next < 0)
                {
                    return null;
                }

                i = next;
            }
        }

        return null;
    }

    private static string Describe(YamlException ex)
    {
        var message = ex.Message;
        // YamlDotNet prefixes some messages with "(Line: 1, Col: 2, Idx: 1) - (...): "; the location is ours to give.
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0)
        {
            message = message.Substring(marker + 3);
        }

        return message.TrimEnd('.');
    }

    private static SourceRange Range(ParsingEvent e) => new(Index(e.Start), Math.Max(Index(e.Start), Index(e.End)));

    private static int Index(Mark mark) => (int)Math.Min(Math.Max(mark.Index, 0), int.MaxValue);

    /// <summary>Forwards to YamlDotNet's parser, remembering where the last event ended.</summary>
    private sealed class TrackingParser : IParser
    {
        private readonly IParser _inner;

        public TrackingParser(IParser inner) => _inner = inner;

        public ParsingEvent? Current => _inner.Current;

        public Mark LastEnd { get; private set; } = Mark.Empty;

        public bool MoveNext()
        {
            var moved = _inner.MoveNext();
            if (_inner.Current is { } current)
            {
                LastEnd = current.End;
            }

            return moved;
        }
    }
}
