using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Tests.Infrastructure;

/// <summary>C# declarations of families with the attributes; line numbers the tests refer to.</summary>
internal static class AttributeSpecs
{
    public const string Path = "/src/TinyFamily.cs";

    /// <summary>
    /// The attribute twin of <see cref="Specs.Tiny"/>. Lines: 6 namespace, 7 the class's doc comment, 8 [TokenformerFamily(,
    /// 9 Tokenizer … 24 TiedEmbeddings (one argument per line, in the order of the YAML keys),
    /// 25 stage Small, 26 stage Large, 27 the class.
    /// </summary>
    public const string Tiny =
        """
        using TokenformerGen.Declarations;
        using TokenformerGen.Families; using TokenformerGen.Text.Families;
        using TokenformerGen.Growth;
        using TokenformerGen.Primitives;

        namespace Test.Models;
        /// <summary>Tiny, declared with attributes.</summary>
        [TokenformerFamily(
            Tokenizer = TokenizerKind.Byte,
            Vocabulary = 256,
            PadToMultiple = 64,
            Context = 64,
            Layers = 2,
            Hidden = 64,
            Heads = 4,
            RotaryFraction = 0.25,
            RotaryBase = 10000,
            Norm = PattentionNorm.L2NormGelu,
            Tau = TauPolicy.Fixed,
            Epsilon = 0,
            KeyStd = 0.02,
            ValueInit = ValueInitializer.Wang,
            EmbeddingStd = 0.02,
            TiedEmbeddings = true)]
        [TokenformerStage("Small", Qkv = 32, Proj = 32, Ffn = 128, TrainTokens = 100_000, LearningRate = 6.0e-4, Warmup = 0.01, Batch = 8)]
        [TokenformerStage("Large", From = "Small", Growth = GrowthPolicy.ZeroKeys, Qkv = 64, Proj = 64, Ffn = 256)]
        public static partial class TinyFamily
        {
        }

        """;

    /// <summary>A minimal declaration: only the required arguments, defaults for the rest.</summary>
    public const string Minimal =
        """
        using TokenformerGen.Declarations;
        using TokenformerGen.Families; using TokenformerGen.Text.Families;

        namespace Test.Declared
        {
            /// <summary>A family declared with the fewest arguments.</summary>
            [TokenformerFamily(Tokenizer = TokenizerKind.Byte, Vocabulary = 256, Context = 32, Layers = 1, Hidden = 32, Heads = 2)]
            [TokenformerStage("Only", Qkv = 8, Proj = 8, Ffn = 16)]
            internal partial class MinimalFamily
            {
                /// <summary>A member the user wrote beside the generated ones.</summary>
                public static string Describe() => Name + " with " + StageCount + " stage";
            }
        }

        """;

    /// <summary>Non-default choices: GPT-2 vocabulary, gelu_l2_norm, value init normal, a branching schedule.</summary>
    public const string Options =
        """
        using Gen = TokenformerGen.Declarations;
        using TokenformerGen.Families; using TokenformerGen.Text.Families;
        using TokenformerGen.Growth;
        using TokenformerGen.Primitives;

        namespace Test.Declared.Options
        {
            /// <summary>Every argument that has a choice, set away from its default.</summary>
            [Gen.TokenformerFamilyAttribute(Tokenizer = TokenizerKind.Gpt2, Vocabulary = 50257, PadToMultiple = 128, Context = 128,
                Layers = 3, Hidden = 96, Heads = 3, RotaryFraction = 0.5, RotaryBase = 500_000,
                Norm = PattentionNorm.GeluL2Norm, Tau = TauPolicy.Fixed, Epsilon = 1e-6,
                KeyStd = 0.01, ValueInit = Gen.ValueInitializer.Normal, ValueStd = 0.015, EmbeddingStd = 0.03)]
            // Stages: a root and two branches grown from it.
            [Gen.TokenformerStage("Root", Qkv = 48, Proj = 48, Ffn = 192, TrainTokens = 3_000_000_000L, LearningRate = 3e-4, Warmup = 0.05, Batch = 32)]
            [Gen.TokenformerStage(name: "Wide", From = "Root", Growth = GrowthPolicy.ZeroKeys, Qkv = 48, Proj = 48, Ffn = 384)]
            [Gen.TokenformerStage("Deep", From = "Root", Growth = GrowthPolicy.ZeroKeys, Qkv = 96, Proj = 96, Ffn = 192)]
            public sealed partial class OptionsFamily
            {
            }
        }

        """;

    /// <summary><see cref="Tiny"/> with line replacements (as <see cref="Specs.Edit"/>).</summary>
    public static string Edit(params (int Line, string Replacement)[] edits)
        => edits.OrderByDescending(e => e.Line).Aggregate(Tiny, (text, e) => Specs.Replace(text, e.Line, e.Replacement));
}
