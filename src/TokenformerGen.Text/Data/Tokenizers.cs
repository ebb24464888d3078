using System.Globalization;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Text.Data;

/// <summary>A chosen tokenizer and one human-readable line on how it was chosen (for logs and the CLI).</summary>
/// <param name="Tokenizer">The tokenizer.</param>
/// <param name="Note">E.g. "GPT-NeoX-20B tokenizer.json not given; falling back to GPT-2 BPE …".</param>
public sealed record TokenizerChoice(ITextTokenizer Tokenizer, string Note);

/// <summary>Picks the tokenizer for a family's <see cref="TokenizerKind"/>.</summary>
public static class Tokenizers
{
    /// <summary>
    /// The tokenizer for a family: <paramref name="tokenizerJsonPath"/> (a Hugging Face <c>tokenizer.json</c>)
    /// when given, whatever the kind; otherwise bytes for <see cref="TokenizerKind.Byte"/>, GPT-2 BPE for
    /// <see cref="TokenizerKind.Gpt2"/>, and the shipped GPT-NeoX-20B tokenizer (<see cref="NeoXTokenizer"/>) for
    /// <see cref="TokenizerKind.NeoX"/>.
    /// </summary>
    /// <exception cref="TokenizerException">The file is missing or unusable, or the tokenizer's vocabulary exceeds
    /// <paramref name="paddedVocabulary"/>.</exception>
    public static TokenizerChoice For(TokenizerKind kind, string? tokenizerJsonPath, long paddedVocabulary)
    {
        if (paddedVocabulary <= 0)
            throw new ArgumentOutOfRangeException(nameof(paddedVocabulary), paddedVocabulary, "the padded vocabulary must be positive");
        TokenizerChoice choice;
        if (tokenizerJsonPath is not null)
        {
            var file = HuggingFaceBpeTokenizer.Load(tokenizerJsonPath);
            var instead = kind == TokenizerKind.NeoX ? "" : $" instead of the family's {Describe(kind)} tokenizer";
            choice = new(file, $"tokenizer: '{tokenizerJsonPath}' (byte-level BPE, {N(file.VocabularySize)} ids){instead}");
        }
        else
        {
            choice = kind switch
            {
                TokenizerKind.Byte => new(ByteTokenizer.Instance, "tokenizer: UTF-8 bytes (256 ids)"),
                TokenizerKind.Gpt2 => new(Gpt2Tokenizer.Instance, $"tokenizer: GPT-2 BPE ({N(Gpt2Tokenizer.Gpt2VocabularySize)} ids)"),
                TokenizerKind.NeoX => new(NeoXTokenizer.Instance, $"tokenizer: GPT-NeoX-20B BPE ({N(NeoXTokenizer.VocabularySize)} ids, shipped)"),
                _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown tokenizer kind"),
            };
        }
        if (choice.Tokenizer.VocabularySize > paddedVocabulary)
            throw new TokenizerException(
                $"tokenizer '{choice.Tokenizer.Name}' has {N(choice.Tokenizer.VocabularySize)} ids but the model's padded vocabulary "
                + $"has only {N(paddedVocabulary)} rows");
        return choice;
    }

    private static string Describe(TokenizerKind kind) => kind switch
    {
        TokenizerKind.Byte => "byte",
        TokenizerKind.Gpt2 => "GPT-2",
        _ => kind.ToString(),
    };

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
