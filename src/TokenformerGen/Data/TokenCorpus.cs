using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using TokenformerGen.Text.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Data;

/// <summary>Which part of a corpus: the training head, or one half of the held-out tail.</summary>
public enum DataSplit
{
    /// <summary>The first 95% of the tokens.</summary>
    Train,
    /// <summary>The first half of the held-out last 5%: evaluation during training, and every choice made by measuring.</summary>
    Validation,
    /// <summary>The second half of the held-out last 5%: the figures reported as results, never used to choose anything.</summary>
    Test,
}

/// <summary>A contiguous range of token positions <c>[Start, Start + Length)</c>.</summary>
/// <param name="Start">First token position.</param>
/// <param name="Length">Number of tokens.</param>
public readonly record struct TokenRange(long Start, long Length)
{
    /// <summary>One past the last position.</summary>
    public long End => Start + Length;
}

/// <summary>Input ids and next-token targets, both int64 <c>[batch, context]</c>; disposing frees both.</summary>
/// <param name="Inputs">Token ids <c>x[b, t]</c>.</param>
/// <param name="Targets">The following ids: <c>Targets[b, t] = corpus[start_b + t + 1]</c>.</param>
public sealed record TokenBatch(Tensor Inputs, Tensor Targets) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>
/// A UTF-8 text corpus (<c>.txt</c>, or gzip-compressed <c>.gz</c>) as token ids, cached on disk and read through
/// a memory map, with a deterministic train/validation split and reproducible batches.
/// </summary>
/// <remarks>
/// <para>The cache file lives in the given cache folder as <c>{corpus}.{tokenizer}.{hash}.tokens</c>, the hash
/// covering the corpus file's bytes, the tokenizer's <see cref="ITextTokenizer.Identity"/> and the file format, so
/// a changed corpus or tokenizer gets a new file. A cache whose header or length does not add up is rebuilt.
/// Old cache files are left in place. Writes are atomic (temporary file, flush, rename).</para>
/// <para>Text is tokenized in chunks of about a million characters cut where the byte-level pre-tokenizer splits
/// anyway (see <c>TextChunks</c>), so no token spans a chunk boundary and the ids equal whole-text encoding. (A
/// <c>tokenizer.json</c> with <c>add_prefix_space</c> gets its prefix space at every chunk start.)</para>
/// <para>Split: the last <c>ceil(5%)</c> of tokens are held out, the rest training; of the held-out tail the first half
/// (<c>ceil</c>) is validation, the second test. No shuffling crosses a boundary.</para>
/// </remarks>
public sealed class TokenCorpus : IDisposable
{
    /// <summary>Share of the tokens held out (the tail), split into validation and test halves.</summary>
    public const double HeldOutFraction = 0.05;

    private readonly MappedTokens _tokens;

    private TokenCorpus(string cachePath, ITextTokenizer tokenizer, TokenFile.Header header, string? rebuildReason)
        : this(cachePath, tokenizer, new MappedTokens(cachePath, header), header.TextBytes, header.HeldOutBytes, null)
    {
        RebuildReason = rebuildReason;
    }

    private TokenCorpus(string cachePath, ITextTokenizer tokenizer, MappedTokens tokens, long textBytes, long heldOutBytes, NeoXDatasetInfo? dataset)
    {
        CachePath = cachePath;
        Tokenizer = tokenizer;
        Dataset = dataset;
        Count = tokens.Count;
        TextBytes = textBytes;
        HeldOutBytes = heldOutBytes;
        var heldOut = HeldOutCount(Count);
        var validation = (heldOut + 1) / 2;
        Train = new TokenRange(0, Count - heldOut);
        Validation = new TokenRange(Count - heldOut, validation);
        Test = new TokenRange(Validation.End, heldOut - validation);
        _tokens = tokens;
    }

    /// <summary>The token file this corpus reads (for a NeoX dataset, its <c>.bin</c>).</summary>
    public string CachePath { get; }

    /// <summary>The NeoX dataset the ids come from (pre-tokenized; its text and so bits per byte are unknown), or null for text.</summary>
    public NeoXDatasetInfo? Dataset { get; }

    /// <summary>The tokenizer that produced the ids.</summary>
    public ITextTokenizer Tokenizer { get; }

    /// <summary>Whether opening had to tokenize (no usable cache); false when the cache was reused.</summary>
    public bool WasBuilt => RebuildReason is not null;

    /// <summary>Why the cache was (re)built, e.g. "no cache" or "corrupt cache: …"; null when it was reused (or is a NeoX dataset).</summary>
    public string? RebuildReason { get; }

    /// <summary>Total number of tokens.</summary>
    public long Count { get; }

    /// <summary>UTF-8 bytes of the whole text (0 for a NeoX dataset, whose text is unknown).</summary>
    public long TextBytes { get; }

    /// <summary>The training range: the first 95% of tokens.</summary>
    public TokenRange Train { get; }

    /// <summary>The validation range: the first half (<c>ceil</c>) of the held-out last 5%, directly after <see cref="Train"/>.</summary>
    public TokenRange Validation { get; }

    /// <summary>The test range: the rest of the held-out tail, directly after <see cref="Validation"/>.</summary>
    public TokenRange Test { get; }

    /// <summary>
    /// UTF-8 bytes of the held-out tail's text, validation and test (its ids decoded; exact for bytes, and for BPE up to a
    /// character split by a token at the tail's start or at a 1M-token counting window).
    /// </summary>
    public long HeldOutBytes { get; }

    /// <summary>Held-out bytes per held-out token (1 for the byte tokenizer): the rate that turns either half's nats per token into bits per byte.</summary>
    public double HeldOutBytesPerToken => Validation.Length + Test.Length == 0 ? 0 : (double)HeldOutBytes / (Validation.Length + Test.Length);

    /// <summary>Number of held-out tokens for <paramref name="count"/> tokens: <c>ceil(count × 5%)</c>.</summary>
    public static long HeldOutCount(long count) => (count + 19) / 20;

    /// <summary>The range of a split.</summary>
    public TokenRange RangeOf(DataSplit split) => split switch
    {
        DataSplit.Train => Train,
        DataSplit.Validation => Validation,
        DataSplit.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    /// <summary>
    /// Opens <paramref name="corpusPath"/> tokenized by <paramref name="tokenizer"/>, reusing the cache in
    /// <paramref name="cacheDirectory"/> when it is valid for this corpus and tokenizer, else building it.
    /// </summary>
    /// <exception cref="FileNotFoundException">The corpus does not exist.</exception>
    public static TokenCorpus Open(string corpusPath, ITextTokenizer tokenizer, string cacheDirectory) =>
        Open(corpusPath, tokenizer, cacheDirectory, TextChunks.DefaultTarget);

    /// <summary>
    /// Opens the corpus like <see cref="Open(string, ITextTokenizer, string)"/>, reporting the share of the corpus
    /// file tokenized so far (0..1) to <paramref name="progress"/> when the cache has to be built.
    /// </summary>
    /// <exception cref="FileNotFoundException">The corpus does not exist.</exception>
    public static TokenCorpus Open(string corpusPath, ITextTokenizer tokenizer, string cacheDirectory, IProgress<double>? progress) =>
        Open(corpusPath, tokenizer, cacheDirectory, TextChunks.DefaultTarget, progress);

    internal static TokenCorpus Open(string corpusPath, ITextTokenizer tokenizer, string cacheDirectory, int chunkChars, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(corpusPath);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(cacheDirectory);
        if (!File.Exists(corpusPath)) throw new FileNotFoundException($"corpus '{corpusPath}' does not exist", corpusPath);
        var cachePath = CachePathFor(corpusPath, tokenizer, cacheDirectory);
        string? reason = null;
        TokenFile.Header? header = null;
        if (!File.Exists(cachePath)) reason = "no cache";
        else if ((header = TokenFile.TryReadHeader(cachePath, out var why)) is null) reason = $"corrupt cache: {why}";
        else if (header.Value.BytesPerId != TokenFile.BytesPerIdFor(tokenizer.VocabularySize) || header.Value.VocabularySize != tokenizer.VocabularySize)
            reason = "cache written for another vocabulary";
        if (reason is not null) header = Build(corpusPath, tokenizer, cachePath, chunkChars, progress);
        return new TokenCorpus(cachePath, tokenizer, header!.Value, reason);
    }

    /// <summary>
    /// Opens the NeoX mmap dataset at <paramref name="prefix"/> (<see cref="NeoXDataset"/>) as a corpus: its items in
    /// order are the token stream, split like a text (the last 5% of the ids are held out). Every id must be below
    /// <paramref name="tokenizer"/>'s vocabulary. Bits per byte are unknown: <see cref="HeldOutBytes"/> is 0.
    /// </summary>
    /// <exception cref="NeoXDatasetException">A missing file, a broken index, or an id outside the vocabulary.</exception>
    public static TokenCorpus OpenNeoX(string prefix, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var (info, tokens) = NeoXDataset.Open(prefix, tokenizer.VocabularySize);
        return new TokenCorpus(NeoXDataset.DataPath(prefix), tokenizer, tokens, 0, 0, info);
    }

    /// <summary>The cache file for a corpus and tokenizer (hashes the corpus file).</summary>
    public static string CachePathFor(string corpusPath, ITextTokenizer tokenizer, string cacheDirectory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"TFGTOKNS/{TokenFile.Version}/{HeldOutFraction}/{tokenizer.Identity}\n"));
        using (var stream = new FileStream(corpusPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        var digest = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        var stem = Path.GetFileName(corpusPath);
        foreach (var extension in new[] { ".gz", ".txt" })
            if (stem.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) stem = stem[..^extension.Length];
        return Path.Combine(cacheDirectory, $"{Safe(stem)}.{Safe(tokenizer.Name)}.{digest}.tokens");
    }

    private static string Safe(string name)
    {
        var invalid = Path.GetInvalidFileNameChars();
        var safe = new string(name.Select(c => invalid.Contains(c) || char.IsWhiteSpace(c) ? '_' : c).ToArray());
        return safe.Length == 0 ? "corpus" : safe;
    }

    /// <summary>Opens the corpus text as UTF-8 (decompressing <c>.gz</c>); invalid bytes become U+FFFD.</summary>
    internal static StreamReader OpenText(string corpusPath) => OpenText(corpusPath, out _);

    internal static StreamReader OpenText(string corpusPath, out FileStream file)
    {
        Stream stream = file = new FileStream(corpusPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (corpusPath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) stream = new GZipStream(stream, CompressionMode.Decompress);
        return new StreamReader(stream, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    private static TokenFile.Header Build(string corpusPath, ITextTokenizer tokenizer, string cachePath, int chunkChars, IProgress<double>? progress)
    {
        var bytesPerId = TokenFile.BytesPerIdFor(tokenizer.VocabularySize);
        TokenFile.Header header = default;
        Checkpoints.AtomicFile.Write(cachePath, stream =>
        {
            long count = 0, textBytes = 0;
            stream.Position = TokenFile.HeaderSize;
            using (var reader = OpenText(corpusPath, out var file))
                foreach (var chunk in TextChunks.Read(reader, chunkChars))
                {
                    var ids = tokenizer.Encode(chunk);
                    TokenFile.WriteIds(stream, ids, bytesPerId);
                    count += ids.Length;
                    textBytes += Encoding.UTF8.GetByteCount(chunk);
                    progress?.Report(file.Length == 0 ? 1 : (double)file.Position / file.Length);   // read-ahead makes this an upper bound
                }
            progress?.Report(1);
            var heldOutBytes = CountHeldOutBytes(stream, tokenizer, count, bytesPerId);
            header = new TokenFile.Header(bytesPerId, count, tokenizer.VocabularySize, textBytes, heldOutBytes);
            TokenFile.WriteHeader(stream, header);
        });
        return header;
    }

    private static long CountHeldOutBytes(Stream stream, ITextTokenizer tokenizer, long count, int bytesPerId)
    {
        const int window = 1 << 20;
        var heldOut = HeldOutCount(count);
        stream.Flush();
        stream.Position = TokenFile.HeaderSize + (count - heldOut) * bytesPerId;
        var raw = new byte[(int)Math.Min(heldOut, window) * bytesPerId];
        var ids = new int[raw.Length / Math.Max(bytesPerId, 1)];
        long bytes = 0;
        for (var left = heldOut; left > 0;)
        {
            var n = (int)Math.Min(left, window);
            stream.ReadExactly(raw, 0, n * bytesPerId);
            for (var i = 0; i < n; i++)
                ids[i] = bytesPerId == 2 ? BitConverter.ToUInt16(raw, i * 2) : BitConverter.ToInt32(raw, i * 4);
            bytes += tokenizer.CountBytes(ids.AsSpan(0, n));
            left -= n;
        }
        return bytes;
    }

    /// <summary>Copies ids <c>[start, start + destination.Length)</c> from the memory-mapped file.</summary>
    public void Read(long start, Span<int> destination) => _tokens.Read(start, destination);

    /// <summary>Ids <c>[start, start + count)</c> as a new array.</summary>
    public int[] Read(long start, int count)
    {
        var ids = new int[count];
        _tokens.Read(start, ids);
        return ids;
    }

    /// <summary>
    /// Start positions (absolute) of the <paramref name="batchSize"/> training windows for an optimizer step: a pure
    /// function of (<paramref name="seed"/>, <paramref name="step"/>, batch index) and the split, so a resumed run
    /// at <paramref name="step"/> draws exactly the batch an uninterrupted run would. Each window of
    /// <c>context + 1</c> tokens (inputs plus the shifted target) lies inside the split.
    /// </summary>
    /// <exception cref="InvalidOperationException">The split is shorter than <c>context + 1</c> tokens.</exception>
    public long[] SampleStarts(DataSplit split, int batchSize, int context, long seed, long step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        var range = RangeOf(split);
        var positions = range.Length - context;   // starts s with s + context + 1 ≤ length
        if (positions < 1)
            throw new InvalidOperationException(
                $"the {split.ToString().ToLowerInvariant()} split has {range.Length} tokens, too few for a window of context {context} + 1");
        var starts = new long[batchSize];
        for (var b = 0; b < batchSize; b++)
        {
            var h = Mix(Mix(Mix((ulong)seed) ^ (ulong)step) ^ (ulong)b);
            starts[b] = range.Start + (long)(((UInt128)h * (ulong)positions) >> 64);
        }
        return starts;
    }

    /// <summary>
    /// A random batch for an optimizer step: windows at <see cref="SampleStarts"/>, inputs <c>[B, T]</c> and targets
    /// shifted by one. Same (<paramref name="seed"/>, <paramref name="step"/>) → same batch.
    /// </summary>
    public TokenBatch Sample(DataSplit split, int batchSize, int context, long seed, long step) =>
        MakeBatch(SampleStarts(split, batchSize, context, seed, step), context);

    /// <summary>Number of non-overlapping windows of <paramref name="context"/> tokens (plus one target) in a split.</summary>
    public long WindowCount(DataSplit split, int context)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(context, 1);
        return Math.Max(0, (RangeOf(split).Length - 1) / context);
    }

    /// <summary>
    /// The split in order as non-overlapping windows (window <c>k</c> starts at <c>split start + k × context</c>),
    /// <paramref name="batchSize"/> per batch, the last batch possibly smaller; at most <paramref name="maxBatches"/>
    /// batches. Deterministic, for evaluation. The caller disposes each batch.
    /// </summary>
    public IEnumerable<TokenBatch> Sequential(DataSplit split, int batchSize, int context, int? maxBatches = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var windows = WindowCount(split, context);
        var start = RangeOf(split).Start;
        var batches = 0;
        for (long w = 0; w < windows && (maxBatches is null || batches < maxBatches); w += batchSize, batches++)
        {
            var n = (int)Math.Min(batchSize, windows - w);
            var starts = new long[n];
            for (var i = 0; i < n; i++) starts[i] = start + (w + i) * context;
            yield return MakeBatch(starts, context);
        }
    }

    private TokenBatch MakeBatch(long[] starts, int context)
    {
        var inputs = new long[starts.Length * context];
        var targets = new long[starts.Length * context];
        var window = new int[context + 1];
        for (var b = 0; b < starts.Length; b++)
        {
            _tokens.Read(starts[b], window);
            for (var t = 0; t < context; t++)
            {
                inputs[b * context + t] = window[t];
                targets[b * context + t] = window[t + 1];
            }
        }
        long[] shape = [starts.Length, context];
        return new TokenBatch(torch.tensor(inputs, shape), torch.tensor(targets, shape));
    }

    private static ulong Mix(ulong x)
    {
        // SplitMix64's finaliser, offset so that 0 does not map to 0.
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <inheritdoc/>
    public void Dispose() => _tokens.Dispose();
}
