namespace TokenformerGen.Text.Data;

/// <summary>Turns text into token ids and back. Implementations are immutable and thread-safe.</summary>
public interface ITextTokenizer
{
    /// <summary>A short name for messages and cache file names, e.g. <c>byte</c> or <c>gpt2</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Everything that decides the ids this tokenizer produces (kind, version, a hash of its files).
    /// Two tokenizers with the same identity encode every text the same way; corpus caches key on it.
    /// </summary>
    string Identity { get; }

    /// <summary>Number of ids the tokenizer can produce: every id is in <c>[0, VocabularySize)</c>.</summary>
    int VocabularySize { get; }

    /// <summary>Encodes <paramref name="text"/> into token ids (no beginning/end-of-text tokens are added).</summary>
    int[] Encode(string text);

    /// <summary>
    /// Decodes token ids into text. Never throws on model output: an id outside the vocabulary (a model's
    /// padding rows) becomes U+FFFD, and bytes that are not valid UTF-8 become U+FFFD.
    /// </summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>
    /// The id that ends a document in pre-tokenized datasets (GPT-NeoX's <c>eod</c>: <c>&lt;|endoftext|&gt;</c>), or null
    /// when the tokenizer has none.
    /// </summary>
    int? EndOfText => null;

    /// <summary>
    /// The number of UTF-8 bytes of the text that <paramref name="ids"/> stand for, for bits-per-byte.
    /// </summary>
    long CountBytes(ReadOnlySpan<int> ids);
}

/// <summary>A tokenizer that cannot be built or does not fit the model: the message says which and why.</summary>
public sealed class TokenizerException(string message, Exception? inner = null) : Exception(message, inner);
