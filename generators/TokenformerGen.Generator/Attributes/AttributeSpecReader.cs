using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Generator.Diagnostics;
using TokenformerGen.Generator.Parsing;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Generator.Plumbing;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Attributes;

/// <summary>
/// The attribute front end: reads <c>[TokenformerFamily]</c> and its <c>[TokenformerStage]</c>s on one
/// class declaration into the same <see cref="RawFamilySpec"/> the YAML reader produces, with every
/// value's range set to its argument's syntax (<c>Heads = 5</c>) and defaults pointing at the
/// attribute's name. From there the shared validator and planner take over. Values come from the
/// compiler's <see cref="AttributeData"/> (constants folded, conversions applied); the syntax only
/// says which arguments were written and where. Nothing read here outlives the call.
/// </summary>
internal sealed class AttributeSpecReader
{
    private readonly DiagnosticBag _bag;

    private AttributeSpecReader(DiagnosticBag bag) => _bag = bag;

    public static RawFamilySpec Read(
        TypeDeclarationSyntax declaration,
        INamedTypeSymbol type,
        AttributeData family,
        IReadOnlyList<AttributeData> stages,
        DiagnosticBag bag,
        CancellationToken cancellationToken)
        => new AttributeSpecReader(bag).ReadFamily(declaration, type, family, stages, cancellationToken);

    private RawFamilySpec ReadFamily(
        TypeDeclarationSyntax declaration,
        INamedTypeSymbol type,
        AttributeData familyAttribute,
        IReadOnlyList<AttributeData> stageAttributes,
        CancellationToken cancellationToken)
    {
        var args = new Arguments(this, familyAttribute, AttributeNames.FamilyShort, $"[{AttributeNames.FamilyShort}] on {type.Name}", cancellationToken);
        var spec = new RawFamilySpec { Range = args.Head };
        var stageNames = new List<string?>();
        spec.DescribePath = path => AttributeNames.DescribePath(path, stageNames);

        // The class declares the family: {Name}Family in a namespace (shape problems are reported by the pipeline).
        var identifier = declaration.Identifier;
        if (identifier.ValueText.EndsWith(AttributeNames.ClassSuffix, StringComparison.Ordinal))
        {
            spec.Family = new Located<string>(
                identifier.ValueText.Substring(0, identifier.ValueText.Length - AttributeNames.ClassSuffix.Length),
                Range(identifier.Span));
        }

        if (!type.ContainingNamespace.IsGlobalNamespace)
        {
            var namespaceSyntax = declaration.Ancestors().OfType<BaseNamespaceDeclarationSyntax>().FirstOrDefault();
            spec.Namespace = new Located<string>(NamespaceName(type.ContainingNamespace), Range(namespaceSyntax?.Name.Span ?? identifier.Span));
        }

        spec.Tokenizer = args.Choice("Tokenizer", SpecChoices.Tokenizer, required: true);
        spec.Vocab = new RawVocab
        {
            Range = args.Head,
            Size = args.Integer("Vocabulary", required: true),
            PadToMultiple = args.Integer("PadToMultiple") ?? new Located<long>(1, args.Head),
        };
        spec.Context = args.Integer("Context", required: true);

        var a = new RawArchitecture
        {
            Range = args.Head,
            Block = args.Choice("Block", SpecChoices.Block) ?? Default(args, BlockKind.Tokenformer, "Block"),
            Layers = args.Integer("Layers", required: true),
            Hidden = args.Integer("Hidden", required: true),
            Heads = args.Integer("Heads", required: true),
            RotaryFraction = args.Number("RotaryFraction") ?? new Located<double>(SpecReader.DefaultRotaryFraction, args.Head),
            RotaryBase = args.Number("RotaryBase") ?? new Located<double>(SpecReader.DefaultRotaryBase, args.Head),
            Norm = args.Choice("Norm", SpecChoices.Norm) ?? Default(args, PattentionNorm.L2NormGelu, "Norm"),
            Tau = args.Choice("Tau", SpecChoices.Tau) ?? Default(args, TauPolicy.SqrtN, "Tau"),
            Epsilon = args.Number("Epsilon") ?? new Located<double>(SpecReader.DefaultEpsilon, args.Head),
            KeyStd = args.Number("KeyStd") ?? new Located<double>(SpecReader.DefaultKeyStd, args.Head),
            ValueInit = args.Choice("ValueInit", SpecChoices.ValueInit) ?? Default(args, ValueInitializer.Wang, "ValueInit"),
            EmbeddingStd = args.Number("EmbeddingStd") ?? new Located<double>(SpecReader.DefaultEmbeddingStd, args.Head),
            TiedEmbeddings = args.Boolean("TiedEmbeddings") ?? new Located<bool>(true, args.Head),
        };

        if (a.ValueInit?.Value == ValueInitializer.Normal)
        {
            a.ValueStd = args.Number("ValueStd", required: true);
        }
        else if (args.Has("ValueStd") && a.ValueInit is { } valueInit)
        {
            _bag.Report(
                DiagnosticDescriptors.InapplicableKey,
                args.RangeOf("ValueStd"),
                "ValueStd",
                "it sets the std of ValueInit = ValueInitializer.Normal, and ValueInit is ValueInitializer." + valueInit.Value);
        }

        if (args.Has("MlpHidden"))
        {
            if (a.Block?.Value == BlockKind.Transformer) a.MlpHidden = args.Integer("MlpHidden");
            else if (a.Block is not null) _bag.Report(DiagnosticDescriptors.InapplicableKey, args.RangeOf("MlpHidden"), "MlpHidden", BlockKeyReasons.MlpWidthOnly("Block = BlockKind.Tokenformer"));
        }

        var tauTokens = new[] { "TauQkvTokens", "TauProjTokens", "TauFfnTokens" };
        foreach (var pattentionOnly in new[] { "Norm", "Tau", "Epsilon" }.Concat(tauTokens))
        {
            if (a.Block?.Value == BlockKind.Transformer && args.Has(pattentionOnly))
                _bag.Report(DiagnosticDescriptors.InapplicableKey, args.RangeOf(pattentionOnly), pattentionOnly, BlockKeyReasons.PattentionOnly("Block = BlockKind.Transformer"));
        }

        // With Tau itself wrong (already reported) its counts cannot be judged.
        if (a.Block?.Value != BlockKind.Transformer && a.Tau is not null && tauTokens.FirstOrDefault(args.Has) is { } firstTauTokens)
        {
            if (a.Tau is { Value: not TauPolicy.Fixed })
            {
                _bag.Report(DiagnosticDescriptors.InapplicableKey, args.RangeOf(firstTauTokens), firstTauTokens, BlockKeyReasons.TauTokensNeedFixed("Tau = TauPolicy.Fixed"));
            }
            else
            {
                a.TauQkv = args.Integer("TauQkvTokens", required: true);
                a.TauProj = args.Integer("TauProjTokens", required: true);
                a.TauFfn = args.Integer("TauFfnTokens", required: true);
            }
        }

        spec.Architecture = a;

        if (stageAttributes.Count == 0)
        {
            _bag.ReportAtHead(DiagnosticDescriptors.EmptyStages, args.Head);
        }

        for (var index = 0; index < stageAttributes.Count; index++)
        {
            var stage = ReadStage(stageAttributes[index], index, a.Block?.Value == BlockKind.Transformer, cancellationToken);
            stageNames.Add(stage.Name?.Value);
            spec.Stages.Add(stage);
        }

        return spec;
    }

    /// <summary>A choice the attribute leaves out has an invalid value only if the argument was written (and already reported).</summary>
    private static Located<T>? Default<T>(Arguments args, T value, string name)
        => args.Has(name) ? null : new Located<T>(value, args.Head);

    private RawStage ReadStage(AttributeData attribute, int index, bool transformer, CancellationToken cancellationToken)
    {
        var args = new Arguments(this, attribute, AttributeNames.StageShort, $"[{AttributeNames.StageShort}] #{index + 1}", cancellationToken);
        var stage = new RawStage { Index = index, Range = args.Head };
        stage.Name = args.ConstructorString("name");
        if (stage.Name is { } name)
        {
            args.Label = $"[{AttributeNames.StageShort}(\"{SpecReader.Shorten(name.Value)}\")]";
        }

        stage.From = args.String("From");
        if (args.Has("LayerGrowth"))
        {
            stage.LayerGrowth = args.Choice("LayerGrowth", SpecChoices.LayerGrowth);
            stage.GrowthRange = args.RangeOf("LayerGrowth");
        }

        if (args.Has("Growth"))
        {
            stage.GrowthRange = args.RangeOf("Growth");
            if (transformer) _bag.Report(DiagnosticDescriptors.InapplicableKey, args.RangeOf("Growth"), "Growth", BlockKeyReasons.GrowsInDepth("LayerGrowth"));
            else stage.Growth = args.Choice("Growth", SpecChoices.Growth);
        }
        else if (stage.From is not null && stage.LayerGrowth is null)
        {
            args.Missing(transformer ? "LayerGrowth" : "Growth");
        }
        else if (stage.From is not null && !transformer)
        {
            stage.Growth = new Located<GrowthPolicy>(GrowthPolicy.ZeroKeys, args.Head);
        }

        stage.Layers = args.Integer("Layers");
        if (transformer)
        {
            foreach (var tokens in new[] { "Qkv", "Proj", "Ffn" })
            {
                if (args.Has(tokens)) _bag.Report(DiagnosticDescriptors.InapplicableKey, args.RangeOf(tokens), tokens, BlockKeyReasons.NoParameterTokens);
            }
        }
        else
        {
            stage.Qkv = args.Integer("Qkv", required: true);
            stage.Proj = args.Integer("Proj", required: true);
            stage.Ffn = args.Integer("Ffn", required: true);
        }

        if (args.Has("TrainTokens") || args.Has("LearningRate") || args.Has("Warmup") || args.Has("Batch"))
        {
            stage.Train = new RawTrain
            {
                Tokens = args.Integer("TrainTokens", required: true),
                LearningRate = args.Number("LearningRate", required: true),
                Warmup = args.Number("Warmup", required: true),
                Batch = args.Integer("Batch", required: true),
            };
        }

        return stage;
    }

    /// <summary>The namespace's name as C# would spell it in a namespace declaration (no <c>@</c> escapes).</summary>
    private static string NamespaceName(INamespaceSymbol ns)
    {
        var parts = new List<string>();
        for (var current = ns; current is { IsGlobalNamespace: false }; current = current.ContainingNamespace)
        {
            parts.Add(current.Name);
        }

        parts.Reverse();
        return string.Join(".", parts);
    }

    private static SourceRange Range(Microsoft.CodeAnalysis.Text.TextSpan span) => new(span.Start, span.End);

    /// <summary>
    /// The arguments written in one attribute: named ones by property name, the constructor's by
    /// parameter. Values are read from the compiler's attribute data; ranges from the syntax.
    /// </summary>
    private sealed class Arguments
    {
        private readonly AttributeSpecReader _reader;
        private readonly AttributeData _attribute;
        private readonly string _attributeName;
        private readonly Dictionary<string, AttributeArgumentSyntax> _named = new(StringComparer.Ordinal);
        private readonly List<AttributeArgumentSyntax> _positional = new();

        public Arguments(AttributeSpecReader reader, AttributeData attribute, string attributeName, string label, CancellationToken cancellationToken)
        {
            _reader = reader;
            _attribute = attribute;
            _attributeName = attributeName;
            Label = label;
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            Head = syntax is null ? SourceRange.FileStart : Range(syntax.Name.Span);
            foreach (var argument in syntax?.ArgumentList?.Arguments ?? default)
            {
                if (argument.NameEquals is { } nameEquals)
                {
                    _named[nameEquals.Name.Identifier.ValueText] = argument;
                }
                else
                {
                    _positional.Add(argument);
                }
            }
        }

        /// <summary>The attribute's name: where defaults point and missing arguments are reported.</summary>
        public SourceRange Head { get; }

        /// <summary>How messages name the attribute, e.g. <c>[TokenformerStage("Small")]</c>.</summary>
        public string Label { get; set; }

        private DiagnosticBag Bag => _reader._bag;

        public bool Has(string name) => _named.ContainsKey(name);

        public SourceRange RangeOf(string name) => Range(_named[name].Span);

        public void Missing(string name) => Bag.ReportAtHead(DiagnosticDescriptors.MissingKey, Head, name, Label);

        public Located<string>? ConstructorString(string parameter)
        {
            var range = _positional.Count > 0 ? Range(_positional[0].Span) : Head;
            if (_attribute.ConstructorArguments.Length == 1
                && _attribute.ConstructorArguments[0] is { Kind: TypedConstantKind.Primitive, Value: string value })
            {
                return new Located<string>(value, range);
            }

            Invalid(parameter, range, "a string");
            return null;
        }

        public Located<string>? String(string name)
        {
            if (Read(name, "a string") is not { } found)
            {
                return null;
            }

            if (found.Constant.Kind == TypedConstantKind.Primitive && found.Constant.Value is string value)
            {
                return new Located<string>(value, found.Range);
            }

            if (found.Constant.Kind == TypedConstantKind.Primitive && found.Constant.Value is null)
            {
                return null; // From = null: a root stage, as if not written
            }

            Invalid(name, found.Range, "a string");
            return null;
        }

        public Located<long>? Integer(string name, bool required = false)
        {
            if (Read(name, "an integer", required) is not { } found)
            {
                return null;
            }

            switch (found.Constant.Value)
            {
                case int i:
                    return new Located<long>(i, found.Range);
                case long l:
                    return new Located<long>(l, found.Range);
                case short or byte or sbyte or ushort or uint when found.Constant.Kind == TypedConstantKind.Primitive:
                    return new Located<long>(Convert.ToInt64(found.Constant.Value, System.Globalization.CultureInfo.InvariantCulture), found.Range);
                default:
                    Invalid(name, found.Range, "an integer");
                    return null;
            }
        }

        public Located<double>? Number(string name, bool required = false)
        {
            if (Read(name, "a number", required) is not { } found)
            {
                return null;
            }

            double value;
            switch (found.Constant.Value)
            {
                case double d:
                    value = d;
                    break;
                case float f:
                    value = f;
                    break;
                case int or long:
                    value = Convert.ToDouble(found.Constant.Value, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                default:
                    Invalid(name, found.Range, "a number");
                    return null;
            }

            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                Bag.Report(DiagnosticDescriptors.ValueOutOfRange, found.Range, name, Invariant.Format(value), "of a finite double");
                return null;
            }

            return new Located<double>(value, found.Range);
        }

        public Located<bool>? Boolean(string name)
        {
            if (Read(name, "true or false") is not { } found)
            {
                return null;
            }

            if (found.Constant.Value is bool value)
            {
                return new Located<bool>(value, found.Range);
            }

            Invalid(name, found.Range, "true or false");
            return null;
        }

        /// <summary>
        /// An enum argument. The value is the underlying number; its meaning is the name of the enum
        /// member with that value (found through the enum type's constant fields), mapped by name onto
        /// the choice's values, which are the same enum compiled into the generator.
        /// </summary>
        public Located<T>? Choice<T>(string name, SpecChoice<T> choice, bool required = false)
            where T : struct
        {
            var choices = choice.Spellings.Select(s => s.Value.ToString()).ToList();
            var expected = "one of " + string.Join(", ", choices);
            if (Read(name, expected, required) is not { } found)
            {
                return null;
            }

            if (found.Constant.Kind != TypedConstantKind.Enum || found.Constant.Type is not INamedTypeSymbol enumType || found.Constant.Value is null)
            {
                Invalid(name, found.Range, expected);
                return null;
            }

            var member = enumType.GetMembers()
                .OfType<IFieldSymbol>()
                .FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, found.Constant.Value))
                ?.Name;
            foreach (var spelling in choice.Spellings)
            {
                if (spelling.Value.ToString() == member)
                {
                    return new Located<T>(spelling.Value, found.Range);
                }
            }

            Bag.Report(
                DiagnosticDescriptors.InvalidEnumValue,
                found.Range,
                name,
                string.Join(" | ", choices.Select(c => enumType.Name + "." + c)),
                member is null ? $"({enumType.Name}){Convert.ToString(found.Constant.Value, System.Globalization.CultureInfo.InvariantCulture)}" : enumType.Name + "." + member);
            return null;
        }

        /// <summary>The constant of a written named argument; reports it when the compiler could not evaluate it.</summary>
        private (TypedConstant Constant, SourceRange Range)? Read(string name, string expected, bool required = false)
        {
            if (!_named.TryGetValue(name, out var syntax))
            {
                if (required)
                {
                    Missing(name);
                }

                return null;
            }

            var range = Range(syntax.Span);
            foreach (var pair in _attribute.NamedArguments)
            {
                if (pair.Key == name && pair.Value.Kind != TypedConstantKind.Error)
                {
                    return (pair.Value, range);
                }
            }

            Invalid(name, range, expected);
            return null;
        }

        private void Invalid(string name, SourceRange range, string expected)
            => Bag.Report(DiagnosticDescriptors.InvalidAttributeArgument, range, name, _attributeName, expected);
    }
}
