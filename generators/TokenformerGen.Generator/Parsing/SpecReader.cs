using System;
using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Parsing;

/// <summary>
/// Reads a YAML tree as a <c>tokenformer/v1</c> spec: strict keys (unknown ones are errors at the
/// key), required keys (missing ones are errors at the mapping), types and choices (errors at the
/// value), defaults for optional keys. Meaning (sizes, divisibility, the schedule) is checked later
/// by the validator. Every problem is reported and reading goes on, so one build shows them all.
/// </summary>
internal sealed class SpecReader
{
    public const string SchemaVersion = "tokenformer/v1";

    /// <summary>Top-level keys with this prefix are ignored: a place to define anchors (as in Compose files).</summary>
    public const string ExtensionPrefix = "x-";

    // The schema's keys, in documentation order (also the order messages list them in).
    internal static readonly string[] RootKeys = { "schema", "family", "namespace", "tokenizer", "vocab", "context", "architecture", "stages" };
    internal static readonly string[] VocabKeys = { "size", "pad_to_multiple" };
    internal static readonly string[] ArchitectureKeys = { "block", "layers", "hidden", "heads", "mlp_hidden", "rotary", "pattention", "init", "tied_embeddings" };
    internal static readonly string[] RotaryKeys = { "fraction", "base" };
    internal static readonly string[] PattentionKeys = { "norm", "tau", "tau_tokens", "epsilon" };
    internal static readonly string[] InitKeys = { "key_std", "value", "value_std", "embedding_std" };
    internal static readonly string[] StageKeys = { "name", "from", "growth", "tokens", "train", "layers", "hidden", "heads", "vocab" };
    internal static readonly string[] TokenKeys = { "qkv", "proj", "ffn" };
    internal static readonly string[] GrowthKeys = { "tokens", "layers" };
    internal static readonly string[] TrainKeys = { "tokens", "learning_rate", "warmup", "batch" };

    // Defaults of optional keys (the official Tokenformer's values).
    internal const double DefaultRotaryFraction = 0.25;
    internal const double DefaultRotaryBase = 10000;
    internal const double DefaultEpsilon = 0;
    internal const double DefaultKeyStd = 0.02;
    internal const double DefaultEmbeddingStd = 0.02;

    private readonly DiagnosticBag _bag;

    private SpecReader(DiagnosticBag bag) => _bag = bag;

    /// <summary>
    /// The raw spec, or <see langword="null"/> when the document is not a spec this generator can
    /// read at all (not a mapping, or another schema version).
    /// </summary>
    public static RawFamilySpec? Read(YNode? root, DiagnosticBag bag) => new SpecReader(bag).ReadRoot(root);

    /// <summary>How messages describe a node's actual value: "the string 'x'", "a list", "null".</summary>
    public static string Describe(YNode node) => node switch
    {
        YMapping => "a mapping",
        YSequence => "a list",
        YScalar s when YamlScalars.IsNull(s) => "null",
        YScalar s when YamlScalars.TryBoolean(s, out _) => "the boolean " + s.Value,
        YScalar s when YamlScalars.LooksNumeric(s) => "the number " + Shorten(s.Value),
        YScalar s => $"the string '{Shorten(s.Value)}'",
        _ => "invalid",
    };

    private RawFamilySpec? ReadRoot(YNode? root)
    {
        if (root is null)
        {
            if (!_bag.HasErrors)
            {
                _bag.Report(DiagnosticDescriptors.MissingSchema, SourceRange.FileStart);
            }

            return null;
        }

        if (root is not YMapping mapping)
        {
            if (root is not YInvalid)
            {
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, root.Range, "A spec", "a mapping of keys (schema, family, …)", Describe(root));
            }

            return null;
        }

        var fields = new Fields(this, mapping, "the spec", string.Empty, RootKeys, allowExtensions: true);
        if (fields.Optional("schema") is not { } schemaNode)
        {
            _bag.ReportAtHead(DiagnosticDescriptors.MissingSchema, mapping.Range);
        }
        else if (String(schemaNode, "schema") is { } schema && schema.Value != SchemaVersion)
        {
            // Another version's keys would only produce noise: stop at the version.
            _bag.Report(DiagnosticDescriptors.UnsupportedSchema, schema.Range, Shorten(schema.Value));
            return null;
        }

        var spec = new RawFamilySpec { Range = mapping.Range };
        spec.Family = String(fields.Required("family"), "family");
        spec.Namespace = String(fields.Required("namespace"), "namespace");
        spec.Tokenizer = Choice(fields.Required("tokenizer"), "tokenizer", SpecChoices.Tokenizer);
        spec.Vocab = ReadVocab(fields.Required("vocab"), "vocab");
        spec.Context = Integer(fields.Required("context"), "context");
        spec.Architecture = ReadArchitecture(fields.Required("architecture"));
        ReadStages(fields.Required("stages"), spec);
        return spec;
    }

    private RawVocab? ReadVocab(YNode? node, string path)
    {
        if (Mapping(node, path) is not { } mapping)
        {
            return null;
        }

        var fields = new Fields(this, mapping, path, path + ".", VocabKeys);
        return new RawVocab
        {
            Range = mapping.Range,
            Size = Integer(fields.Required("size"), path + ".size"),
            PadToMultiple = fields.Optional("pad_to_multiple") is { } pad
                ? Integer(pad, path + ".pad_to_multiple")
                : new Located<long>(1, _bag.Head(mapping.Range)),
        };
    }

    private RawArchitecture? ReadArchitecture(YNode? node)
    {
        if (Mapping(node, "architecture") is not { } mapping)
        {
            return null;
        }

        var fields = new Fields(this, mapping, "architecture", "architecture.", ArchitectureKeys);
        var head = _bag.Head(mapping.Range);
        var architecture = new RawArchitecture
        {
            Range = mapping.Range,
            Block = fields.Optional("block") is { } block ? Choice(block, "architecture.block", SpecChoices.Block) : new Located<BlockKind>(BlockKind.Tokenformer, head),
            Layers = Integer(fields.Required("layers"), "architecture.layers"),
            Hidden = Integer(fields.Required("hidden"), "architecture.hidden"),
            Heads = Integer(fields.Required("heads"), "architecture.heads"),
            RotaryFraction = new Located<double>(DefaultRotaryFraction, head),
            RotaryBase = new Located<double>(DefaultRotaryBase, head),
            Norm = new Located<PattentionNorm>(PattentionNorm.L2NormGelu, head),
            Tau = new Located<TauPolicy>(TauPolicy.SqrtN, head),
            Epsilon = new Located<double>(DefaultEpsilon, head),
            KeyStd = new Located<double>(DefaultKeyStd, head),
            ValueInit = new Located<ValueInitializer>(ValueInitializer.Wang, head),
            EmbeddingStd = new Located<double>(DefaultEmbeddingStd, head),
            TiedEmbeddings = new Located<bool>(true, head),
        };

        if (Mapping(fields.Optional("rotary"), "architecture.rotary") is { } rotary)
        {
            var r = new Fields(this, rotary, "architecture.rotary", "architecture.rotary.", RotaryKeys);
            var rotaryHead = _bag.Head(rotary.Range);
            architecture.RotaryFraction = r.Optional("fraction") is { } f ? Number(f, "architecture.rotary.fraction") : new Located<double>(DefaultRotaryFraction, rotaryHead);
            architecture.RotaryBase = r.Optional("base") is { } b ? Number(b, "architecture.rotary.base") : new Located<double>(DefaultRotaryBase, rotaryHead);
        }

        var transformer = architecture.Block?.Value == BlockKind.Transformer;
        if (fields.Optional("mlp_hidden") is { } mlpHidden)
        {
            if (transformer) architecture.MlpHidden = Integer(mlpHidden, "architecture.mlp_hidden");
            else if (architecture.Block is not null) _bag.Report(DiagnosticDescriptors.InapplicableKey, fields.KeyRange("mlp_hidden"), "architecture.mlp_hidden", BlockKeyReasons.MlpWidthOnly("block: " + BlockKind.Tokenformer.SpecName()));
        }

        if (transformer && fields.Optional("pattention") is not null)
        {
            _bag.Report(DiagnosticDescriptors.InapplicableKey, fields.KeyRange("pattention"), "architecture.pattention", BlockKeyReasons.PattentionOnly("block: " + BlockKind.Transformer.SpecName()));
        }
        else if (Mapping(fields.Optional("pattention"), "architecture.pattention") is { } pattention)
        {
            var p = new Fields(this, pattention, "architecture.pattention", "architecture.pattention.", PattentionKeys);
            if (p.Optional("norm") is { } norm)
            {
                architecture.Norm = Choice(norm, "architecture.pattention.norm", SpecChoices.Norm);
            }

            if (p.Optional("tau") is { } tau)
            {
                architecture.Tau = Choice(tau, "architecture.pattention.tau", SpecChoices.Tau);
            }

            if (p.Optional("tau_tokens") is { } tauTokens)
            {
                // With tau itself wrong (already reported) its counts are not judged.
                if (architecture.Tau is { Value: not TauPolicy.Fixed })
                {
                    _bag.Report(DiagnosticDescriptors.InapplicableKey, p.KeyRange("tau_tokens"), "architecture.pattention.tau_tokens", BlockKeyReasons.TauTokensNeedFixed("tau: " + TauPolicy.Fixed.SpecName()));
                }
                else if (architecture.Tau is not null && Mapping(tauTokens, "architecture.pattention.tau_tokens") is { } counts)
                {
                    (architecture.TauQkv, architecture.TauProj, architecture.TauFfn) = Counts(counts, "architecture.pattention.tau_tokens");
                }
            }

            if (p.Optional("epsilon") is { } epsilon)
            {
                architecture.Epsilon = Number(epsilon, "architecture.pattention.epsilon");
            }
        }

        if (Mapping(fields.Optional("init"), "architecture.init") is { } init)
        {
            var i = new Fields(this, init, "architecture.init", "architecture.init.", InitKeys);
            if (i.Optional("key_std") is { } keyStd)
            {
                architecture.KeyStd = Number(keyStd, "architecture.init.key_std");
            }

            if (i.Optional("value") is { } value)
            {
                architecture.ValueInit = Choice(value, "architecture.init.value", SpecChoices.ValueInit);
            }

            var valueStd = i.Optional("value_std");
            if (architecture.ValueInit?.Value == ValueInitializer.Normal)
            {
                architecture.ValueStd = Number(valueStd ?? i.Required("value_std"), "architecture.init.value_std");
            }
            else if (valueStd is not null && architecture.ValueInit is not null)
            {
                _bag.Report(
                    DiagnosticDescriptors.InapplicableKey,
                    i.KeyRange("value_std"),
                    "architecture.init.value_std",
                    "it sets the std of value: normal, and value is " + architecture.ValueInit.Value.Value.SpecName());
            }

            if (i.Optional("embedding_std") is { } embeddingStd)
            {
                architecture.EmbeddingStd = Number(embeddingStd, "architecture.init.embedding_std");
            }
        }

        if (fields.Optional("tied_embeddings") is { } tied)
        {
            architecture.TiedEmbeddings = Boolean(tied, "architecture.tied_embeddings");
        }

        return architecture;
    }

    private void ReadStages(YNode? node, RawFamilySpec spec)
    {
        if (node is null or YInvalid)
        {
            return;
        }

        if (node is not YSequence sequence)
        {
            _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, "stages", "a list of stages", Describe(node));
            return;
        }

        if (sequence.Items.Count == 0)
        {
            _bag.ReportAtHead(DiagnosticDescriptors.EmptyStages, sequence.Range);
            return;
        }

        for (var index = 0; index < sequence.Items.Count; index++)
        {
            var path = $"stages[{index}]";
            if (Mapping(sequence.Items[index], path) is not { } mapping)
            {
                continue;
            }

            var stage = new RawStage { Index = index, Range = mapping.Range };
            var fields = new Fields(this, mapping, path, path + ".", StageKeys);
            stage.Name = String(fields.Required("name"), path + ".name");
            fields.Label = stage.Label;
            stage.From = fields.Optional("from") is { } from ? String(from, path + ".from") : null;
            var transformer = spec.Architecture?.Block?.Value == BlockKind.Transformer;
            if (fields.Optional("growth") is { } growth)
            {
                ReadGrowth(growth, path + ".growth", stage, transformer);
            }
            else if (stage.From is not null)
            {
                fields.Required("growth");
            }

            if (transformer)
            {
                if (fields.Optional("tokens") is not null)
                    _bag.Report(DiagnosticDescriptors.InapplicableKey, fields.KeyRange("tokens"), path + ".tokens", BlockKeyReasons.NoParameterTokens);
            }
            else if (Mapping(fields.Required("tokens"), path + ".tokens") is { } tokens)
            {
                (stage.Qkv, stage.Proj, stage.Ffn) = Counts(tokens, path + ".tokens");
            }

            if (Mapping(fields.Optional("train"), path + ".train") is { } train)
            {
                var t = new Fields(this, train, path + ".train", path + ".train.", TrainKeys);
                stage.Train = new RawTrain
                {
                    Tokens = Integer(t.Required("tokens"), path + ".train.tokens"),
                    LearningRate = Number(t.Required("learning_rate"), path + ".train.learning_rate"),
                    Warmup = Number(t.Required("warmup"), path + ".train.warmup"),
                    Batch = Integer(t.Required("batch"), path + ".train.batch"),
                };
            }

            stage.Layers = fields.Optional("layers") is { } layers ? Integer(layers, path + ".layers") : null;
            stage.Hidden = fields.Optional("hidden") is { } hidden ? Integer(hidden, path + ".hidden") : null;
            stage.Heads = fields.Optional("heads") is { } heads ? Integer(heads, path + ".heads") : null;
            stage.Vocab = fields.Optional("vocab") is { } vocab ? ReadVocab(vocab, path + ".vocab") : null;
            spec.Stages.Add(stage);
        }
    }

    // growth: zero_keys (the tokens' policy alone), or growth: { tokens: zero_keys, layers: identity }.
    private void ReadGrowth(YNode node, string path, RawStage stage, bool transformer)
    {
        stage.GrowthRange = node.Range;
        var noTokens = BlockKeyReasons.GrowsInDepth("growth: { layers: " + SpecChoices.LayerGrowth.Join("|") + " }");
        if (node is not YMapping mapping)
        {
            if (transformer && node is YScalar) _bag.Report(DiagnosticDescriptors.InapplicableKey, node.Range, path, noTokens);
            else stage.Growth = Choice(node, path, SpecChoices.Growth);
            return;
        }

        var fields = new Fields(this, mapping, path, path + ".", GrowthKeys);
        if (fields.Optional("tokens") is { } tokens)
        {
            if (transformer) _bag.Report(DiagnosticDescriptors.InapplicableKey, fields.KeyRange("tokens"), path + ".tokens", noTokens);
            else stage.Growth = Choice(tokens, path + ".tokens", SpecChoices.Growth);
        }
        else if (!transformer)
        {
            // Only the depth grows unless the counts do too; zero_keys makes any new rows keep the function.
            stage.Growth = new Located<GrowthPolicy>(GrowthPolicy.ZeroKeys, _bag.Head(mapping.Range));
        }

        if (fields.Optional("layers") is { } layers)
        {
            stage.LayerGrowth = Choice(layers, path + ".layers", SpecChoices.LayerGrowth);
        }
    }

    // ---- typed values -------------------------------------------------------------------------

    private YMapping? Mapping(YNode? node, string path)
    {
        switch (node)
        {
            case null or YInvalid:
                return null;
            case YMapping mapping:
                return mapping;
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, path, "a mapping", Describe(node));
                return null;
        }
    }

    private Located<string>? String(YNode? node, string path)
    {
        switch (node)
        {
            case null or YInvalid:
                return null;
            case YScalar scalar when !YamlScalars.IsNull(scalar):
                return new Located<string>(scalar.Value, scalar.Range);
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, path, "a string", Describe(node));
                return null;
        }
    }

    private Located<T>? Choice<T>(YNode? node, string path, SpecChoice<T> choice)
        where T : struct
    {
        if (String(node, path) is not { } text)
        {
            return null;
        }

        if (choice.TryParse(text.Value, out var value))
        {
            return new Located<T>(value, text.Range);
        }

        _bag.Report(DiagnosticDescriptors.InvalidEnumValue, text.Range, path, choice.Join(" | "), Shorten(text.Value));
        return null;
    }

    // A qkv/proj/ffn mapping of token counts (a stage's tokens, tau_tokens), each required.
    private (Located<long>? Qkv, Located<long>? Proj, Located<long>? Ffn) Counts(YMapping mapping, string path)
    {
        var t = new Fields(this, mapping, path, path + ".", TokenKeys);
        return (Integer(t.Required("qkv"), path + ".qkv"), Integer(t.Required("proj"), path + ".proj"), Integer(t.Required("ffn"), path + ".ffn"));
    }

    private Located<long>? Integer(YNode? node, string path)
    {
        switch (node)
        {
            case null or YInvalid:
                return null;
            case YScalar scalar when YamlScalars.TryInteger(scalar, out var value, out var tooLarge) || tooLarge:
                if (tooLarge)
                {
                    _bag.Report(DiagnosticDescriptors.ValueOutOfRange, scalar.Range, path, Shorten(scalar.Value), "of a 64-bit integer");
                    return null;
                }

                return new Located<long>(value, scalar.Range);
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, path, "an integer", Describe(node));
                return null;
        }
    }

    private Located<double>? Number(YNode? node, string path)
    {
        switch (node)
        {
            case null or YInvalid:
                return null;
            case YScalar scalar when YamlScalars.TryNumber(scalar, out var value, out _):
                return new Located<double>(value, scalar.Range);
            case YScalar scalar when YamlScalars.LooksNumeric(scalar):
                _bag.Report(DiagnosticDescriptors.ValueOutOfRange, scalar.Range, path, Shorten(scalar.Value), "of a finite double");
                return null;
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, path, "a number", Describe(node));
                return null;
        }
    }

    private Located<bool>? Boolean(YNode? node, string path)
    {
        switch (node)
        {
            case null or YInvalid:
                return null;
            case YScalar scalar when YamlScalars.TryBoolean(scalar, out var value):
                return new Located<bool>(value, scalar.Range);
            default:
                _bag.ReportAtHead(DiagnosticDescriptors.WrongType, node.Range, path, "true or false", Describe(node));
                return null;
        }
    }

    internal static string Shorten(string text)
    {
        var oneLine = text.Replace("\r", "\\r").Replace("\n", "\\n");
        return oneLine.Length <= 60 ? oneLine : oneLine.Substring(0, 57) + "...";
    }

    /// <summary>The entries of one mapping, checked against the keys the schema allows there.</summary>
    private sealed class Fields
    {
        private readonly SpecReader _reader;
        private readonly YMapping _mapping;
        private readonly Dictionary<string, YEntry> _entries = new(StringComparer.Ordinal);

        public Fields(SpecReader reader, YMapping mapping, string label, string prefix, string[] allowed, bool allowExtensions = false)
        {
            _reader = reader;
            _mapping = mapping;
            Label = label;
            foreach (var entry in mapping.Entries)
            {
                if (Array.IndexOf(allowed, entry.Key.Value) >= 0)
                {
                    _entries[entry.Key.Value] = entry;
                }
                else if (allowExtensions && entry.Key.Value.StartsWith(ExtensionPrefix, StringComparison.Ordinal))
                {
                    // Extension keys (x-…) hold anchors for reuse; the schema ignores their values.
                }
                else
                {
                    reader._bag.Report(
                        DiagnosticDescriptors.UnknownKey,
                        entry.Key.Range,
                        Shorten(prefix + entry.Key.Value),
                        label,
                        string.Join(", ", allowed) + (allowExtensions ? ", x-… (ignored)" : string.Empty));
                }
            }
        }

        /// <summary>How messages name the mapping, e.g. "architecture" or "stages[1] ('Medium')".</summary>
        public string Label { get; set; }

        public YNode? Optional(string key) => _entries.TryGetValue(key, out var entry) ? entry.Value : null;

        public SourceRange KeyRange(string key) => _entries[key].Key.Range;

        public YNode? Required(string key)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                return entry.Value;
            }

            _reader._bag.ReportAtHead(DiagnosticDescriptors.MissingKey, _mapping.Range, key, Label);
            return null;
        }
    }
}
