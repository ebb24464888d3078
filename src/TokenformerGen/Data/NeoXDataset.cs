using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using TokenformerGen.Checkpoints;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Data;

/// <summary>A NeoX dataset that cannot be read: the message names the file and what is wrong with it.</summary>
public sealed class NeoXDatasetException(string message) : Exception(message);

/// <summary>What the index of a NeoX dataset says.</summary>
/// <param name="Prefix">The dataset's path prefix (<c>PREFIX.idx</c>, <c>PREFIX.bin</c>).</param>
/// <param name="DTypeCode">The index's dtype code (1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 8 u16).</param>
/// <param name="Items">Items (sequences) in the index.</param>
/// <param name="Documents">Documents (the document index has one more entry).</param>
/// <param name="Tokens">Ids in all items together.</param>
public sealed record NeoXDatasetInfo(string Prefix, byte DTypeCode, long Items, long Documents, long Tokens)
{
    /// <summary>The dtype's numpy name, e.g. <c>uint16</c>.</summary>
    public string DTypeName => NeoXDataset.DTypeName(DTypeCode);
}

/// <summary>
/// GPT-NeoX's memory-mapped indexed dataset (<c>megatron/data/indexed_dataset.py</c>, <c>MMapIndexedDataset</c>), the
/// format the official trainer reads with <c>data_impl: mmap</c>: <c>PREFIX.bin</c> holds the ids of every item back to
/// back; <c>PREFIX.idx</c> holds the magic <c>MMIDIDX\0\0</c>, a u64 version (1), a u8 dtype code, a u64 item count, a u64
/// document-index length, then int32 item sizes, int64 byte pointers into the <c>.bin</c> and the int64 document index
/// (item numbers where documents start, from 0 to the item count), all little-endian.
/// </summary>
/// <remarks>
/// Written as the official preprocessing writes it: one item per document, the end-of-text id appended inside it,
/// <c>uint16</c> ids when the tokenizer has fewer than 65,500 ids and <c>int32</c> otherwise. Read as one stream of ids,
/// the items in order; opening checks the whole index and every id against the vocabulary.
/// </remarks>
public static class NeoXDataset
{
    /// <summary>The index file's magic.</summary>
    public static ReadOnlySpan<byte> Magic => "MMIDIDX\0\0"u8;

    private const int HeaderSize = 9 + 8 + 1 + 8 + 8;

    /// <summary><c>PREFIX.idx</c>.</summary>
    public static string IndexPath(string prefix) => prefix + ".idx";

    /// <summary><c>PREFIX.bin</c>.</summary>
    public static string DataPath(string prefix) => prefix + ".bin";

    /// <summary>Whether both files of a dataset exist at <paramref name="prefix"/>.</summary>
    public static bool Exists(string prefix) => File.Exists(IndexPath(prefix)) && File.Exists(DataPath(prefix));

    /// <summary>
    /// The dataset prefix <paramref name="path"/> names: the path itself when <c>path.idx</c> and <c>path.bin</c> exist,
    /// or the path without its extension when it names one of the two files; null when it names no dataset.
    /// </summary>
    public static string? PrefixOf(string path)
    {
        if (Exists(path)) return path;
        foreach (var extension in new[] { ".idx", ".bin" })
            if (path.EndsWith(extension, StringComparison.Ordinal) && Exists(path[..^extension.Length])) return path[..^extension.Length];
        return null;
    }

    /// <summary>The dtype code for a tokenizer of <paramref name="vocabularySize"/> ids: 8 (uint16) below 65,500, else 4 (int32).</summary>
    public static byte DTypeCodeFor(long vocabularySize) => vocabularySize < 65500 ? (byte)8 : (byte)4;

    /// <summary>The numpy name of a dtype code.</summary>
    public static string DTypeName(byte code) => code switch
    {
        1 => "uint8",
        2 => "int8",
        3 => "int16",
        4 => "int32",
        5 => "int64",
        6 => "float32",
        7 => "float64",
        8 => "uint16",
        _ => $"unknown code {code}",
    };

    private static IdType? IdTypeOf(byte code) => code switch
    {
        1 => IdType.UInt8,
        2 => IdType.Int8,
        3 => IdType.Int16,
        4 => IdType.Int32,
        5 => IdType.Int64,
        8 => IdType.UInt16,
        _ => null,
    };

    /// <summary>
    /// Writes documents as a dataset at <paramref name="prefix"/>: each document one item with
    /// <paramref name="endOfText"/> appended; see <see cref="NeoXDatasetWriter"/>.
    /// </summary>
    /// <param name="prefix">Where to write <c>PREFIX.bin</c> and <c>PREFIX.idx</c>.</param>
    /// <param name="documents">Each document's ids (without the end-of-text id); empty documents are skipped.</param>
    /// <param name="vocabularySize">The tokenizer's ids, which decides the dtype; every id must be below it.</param>
    /// <param name="endOfText">The id appended to every document.</param>
    /// <returns>What was written.</returns>
    public static NeoXDatasetInfo Write(string prefix, IEnumerable<int[]> documents, int vocabularySize, int endOfText)
    {
        using var writer = new NeoXDatasetWriter(prefix, vocabularySize, endOfText);
        foreach (var document in documents)
        {
            writer.Add(document);
            writer.EndDocument();
        }
        return writer.Commit();
    }

    /// <summary>
    /// Tokenizes a text into a dataset as GPT-NeoX's preprocessing does: a JSON-lines file (<c>.jsonl</c>, or
    /// <c>.jsonl.gz</c>) gives one document per line, the line's <c>"text"</c> string; any other file (UTF-8 text,
    /// <c>.gz</c> compressed) is one document, as <c>lm_dataformat</c> reads a <c>.txt</c>. Each document is encoded
    /// whole (long texts in chunks cut where the pre-tokenizer splits anyway) and ends with the tokenizer's end-of-text id.
    /// </summary>
    /// <param name="inputPath">The text or JSON-lines file.</param>
    /// <param name="tokenizer">The tokenizer; it must have an end-of-text id.</param>
    /// <param name="prefix">Where to write <c>PREFIX.bin</c> and <c>PREFIX.idx</c>.</param>
    /// <param name="progress">Share of the input read so far (0..1), or null.</param>
    /// <exception cref="TokenizerException">The tokenizer has no end-of-text id.</exception>
    /// <exception cref="InvalidDataException">A JSON line that is not an object with a string <c>"text"</c> (file and line named).</exception>
    public static NeoXDatasetInfo FromText(string inputPath, ITextTokenizer tokenizer, string prefix, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"text file '{inputPath}' does not exist", inputPath);
        var endOfText = tokenizer.EndOfText
            ?? throw new TokenizerException($"tokenizer '{tokenizer.Name}' has no end-of-text id to end the documents of a NeoX dataset with");
        using var writer = new NeoXDatasetWriter(prefix, tokenizer.VocabularySize, endOfText);
        using var reader = TokenCorpus.OpenText(inputPath, out var file);
        if (IsJsonLines(inputPath))
        {
            var number = 0;
            while (reader.ReadLine() is { } line)
            {
                number++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                writer.Add(tokenizer.Encode(TextOfJsonLine(line, inputPath, number)));
                writer.EndDocument();
                if (number % 1024 == 0) progress?.Report(Share(file));
            }
        }
        else
        {
            foreach (var chunk in TextChunks.Read(reader))
            {
                writer.Add(tokenizer.Encode(chunk));
                progress?.Report(Share(file));
            }
            writer.EndDocument();
        }
        progress?.Report(1);
        return writer.Commit();
    }

    /// <summary>Whether <paramref name="path"/> is read as JSON lines (<c>.jsonl</c> or <c>.jsonl.gz</c>).</summary>
    public static bool IsJsonLines(string path) =>
        path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);

    private static double Share(FileStream file) => file.Length == 0 ? 1 : (double)file.Position / file.Length;

    private static string TextOfJsonLine(string line, string path, int number)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            if (json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && json.RootElement.TryGetProperty("text", out var text) && text.ValueKind == System.Text.Json.JsonValueKind.String)
                return text.GetString()!;
            throw new InvalidDataException($"{path}:{number}: a JSON-lines document is an object with a string \"text\" field");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{path}:{number}: not valid JSON ({e.Message})", e);
        }
    }

    internal static void WriteIndex(Stream stream, byte code, IReadOnlyList<int> sizes)
    {
        var width = DTypeWidth(code);
        var writer = new BinaryWriter(stream);
        writer.Write(Magic);
        writer.Write(1UL);
        writer.Write(code);
        writer.Write((ulong)sizes.Count);
        writer.Write((ulong)sizes.Count + 1);
        foreach (var size in sizes) writer.Write(size);
        long pointer = 0;
        foreach (var size in sizes)
        {
            writer.Write(pointer);
            pointer += (long)size * width;
        }
        for (long document = 0; document <= sizes.Count; document++) writer.Write(document);
        writer.Flush();
    }

    // Bytes per id of a code that holds ids (the writer's are 4 and 8).
    internal static int DTypeWidth(byte code) => MappedTokens.Width(IdTypeOf(code) ?? throw new ArgumentException($"dtype code {code} ({DTypeName(code)}) holds no token ids", nameof(code)));

    /// <summary>Reads and checks the index of the dataset at <paramref name="prefix"/> (not the ids).</summary>
    /// <exception cref="NeoXDatasetException">A missing file, or an index that is not a valid NeoX mmap index.</exception>
    public static NeoXDatasetInfo ReadInfo(string prefix) => ReadIndex(prefix).Info;

    /// <summary>
    /// Opens the dataset at <paramref name="prefix"/> as one stream of ids (the items in order), after checking the
    /// magic, version, dtype, that the items' pointers cover the <c>.bin</c> exactly and in order, the document index,
    /// and that every id is in <c>[0, vocabularySize)</c>.
    /// </summary>
    /// <exception cref="NeoXDatasetException">Any check failed; the message names the file and the numbers.</exception>
    internal static (NeoXDatasetInfo Info, MappedTokens Tokens) Open(string prefix, long vocabularySize)
    {
        var (info, type) = ReadIndex(prefix);
        var bin = DataPath(prefix);
        var tokens = new MappedTokens(bin, 0, info.Tokens, type);
        try
        {
            var at = tokens.FirstIdOutside(vocabularySize, out var id);
            if (at >= 0)
                throw new NeoXDatasetException($"{bin}: id {id.ToString(CultureInfo.InvariantCulture)} at token {at:N0} is outside the tokenizer's vocabulary [0, {vocabularySize:N0})");
            return (info, tokens);
        }
        catch
        {
            tokens.Dispose();
            throw;
        }
    }

    private static (NeoXDatasetInfo Info, IdType Type) ReadIndex(string prefix)
    {
        var idx = IndexPath(prefix);
        var bin = DataPath(prefix);
        foreach (var path in new[] { idx, bin })
            if (!File.Exists(path)) throw new NeoXDatasetException($"NeoX dataset '{prefix}': {path} does not exist (a dataset is PREFIX.idx plus PREFIX.bin)");
        NeoXDatasetException Bad(string why) => new($"{idx}: {why}");

        var length = new FileInfo(idx).Length;
        if (length < HeaderSize) throw Bad($"{length} bytes, shorter than the {HeaderSize}-byte header of a NeoX mmap index");
        using var file = MemoryMappedFile.CreateFromFile(idx, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        Span<byte> header = stackalloc byte[HeaderSize];
        for (var i = 0; i < HeaderSize; i++) header[i] = view.ReadByte(i);
        if (!header[..9].SequenceEqual(Magic))
            throw Bad($"bad magic {Convert.ToHexString(header[..9])} (expected {Convert.ToHexString(Magic)}, \"MMIDIDX\\0\\0\"): not a NeoX mmap index");
        var version = BinaryPrimitives.ReadUInt64LittleEndian(header[9..]);
        if (version != 1) throw Bad($"version {version}; only version 1 exists");
        var code = header[17];
        if (IdTypeOf(code) is not { } type)
            throw Bad($"dtype code {code} ({DTypeName(code)}) cannot hold token ids (expected 1 u8, 2 i8, 3 i16, 4 i32, 5 i64 or 8 u16)");
        var items = BinaryPrimitives.ReadUInt64LittleEndian(header[18..]);
        var documents = BinaryPrimitives.ReadUInt64LittleEndian(header[26..]);
        var expected = HeaderSize + (decimal)items * (4 + 8) + (decimal)documents * 8;
        if (expected != length)
            throw Bad($"{length:N0} bytes, but {items:N0} items and a document index of {documents:N0} entries need {expected:N0}");

        var width = MappedTokens.Width(type);
        var binLength = new FileInfo(bin).Length;
        long sizesAt = HeaderSize, pointersAt = sizesAt + (long)items * 4, documentsAt = pointersAt + (long)items * 8;
        long tokens = 0;
        for (long i = 0; i < (long)items; i++)
        {
            var size = view.ReadInt32(sizesAt + i * 4);
            var pointer = view.ReadInt64(pointersAt + i * 8);
            if (size < 0) throw Bad($"item {i:N0} has size {size}");
            // Items back to back from byte 0 (as every NeoX writer makes them), so the ids read as one stream.
            if (pointer != tokens * width)
                throw Bad($"item {i:N0} points at byte {pointer:N0} of {bin}, but the items before it end at byte {tokens * width:N0}");
            tokens += size;
            if (tokens * width > binLength)
                throw Bad($"item {i:N0} ends at byte {tokens * width:N0}, past the end of {bin} ({binLength:N0} bytes)");
        }
        if (tokens * width != binLength)
            throw Bad($"its items hold {tokens:N0} ids ({tokens * width:N0} bytes of {DTypeName(code)}), but {bin} has {binLength:N0} bytes");
        if (documents == 0) throw Bad("the document index is empty (it starts with 0)");
        long previous = -1;
        for (long d = 0; d < (long)documents; d++)
        {
            var start = view.ReadInt64(documentsAt + d * 8);
            if ((d == 0 && start != 0) || start < previous || start > (long)items)
                throw Bad($"document index entry {d:N0} is {start:N0}; entries rise from 0 to the item count {items:N0}");
            previous = start;
        }
        if (previous != (long)items) throw Bad($"the document index ends at item {previous:N0}, not at the item count {items:N0}");
        return (new NeoXDatasetInfo(prefix, code, (long)items, (long)documents - 1, tokens), type);
    }
}

/// <summary>
/// Writes a NeoX dataset document by document, streaming the ids to disk: <see cref="Add"/> a document's ids (in as
/// many pieces as convenient), <see cref="EndDocument"/>, and finally <see cref="Commit"/>. Nothing replaces an
/// existing dataset until <see cref="Commit"/>, which renames the <c>.bin</c> first and the <c>.idx</c> last; disposing
/// without committing leaves no file behind.
/// </summary>
public sealed class NeoXDatasetWriter : IDisposable
{
    private readonly string _prefix;
    private readonly int _vocabularySize;
    private readonly int _endOfText;
    private readonly byte _code;
    private readonly PendingFile _bin;
    private readonly List<int> _sizes = [];
    private long _current;
    private long _tokens;

    /// <summary>Starts a dataset at <paramref name="prefix"/> for a tokenizer of <paramref name="vocabularySize"/> ids.</summary>
    /// <exception cref="ArgumentException">The end-of-text id is outside the vocabulary.</exception>
    public NeoXDatasetWriter(string prefix, int vocabularySize, int endOfText)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        if ((uint)endOfText >= (uint)vocabularySize)
            throw new ArgumentException($"end-of-text id {endOfText} is outside the vocabulary [0, {vocabularySize})", nameof(endOfText));
        _prefix = prefix;
        _vocabularySize = vocabularySize;
        _endOfText = endOfText;
        _code = NeoXDataset.DTypeCodeFor(vocabularySize);
        _bin = AtomicFile.Begin(NeoXDataset.DataPath(prefix));
    }

    /// <summary>Documents ended so far (empty ones are not counted).</summary>
    public int Documents => _sizes.Count;

    /// <summary>Ids written so far, end-of-text ids included.</summary>
    public long Tokens => _tokens + _current;

    /// <summary>Appends ids to the current document.</summary>
    /// <exception cref="ArgumentException">An id outside the vocabulary.</exception>
    public void Add(ReadOnlySpan<int> ids)
    {
        foreach (var id in ids)
            if ((uint)id >= (uint)_vocabularySize)
                throw new ArgumentException($"document {_sizes.Count} has id {id}, outside the vocabulary [0, {_vocabularySize})");
        TokenFile.WriteIds(_bin.Stream, ids, NeoXDataset.DTypeWidth(_code));
        _current += ids.Length;
    }

    /// <summary>Ends the current document with the end-of-text id; a document without ids is dropped, as NeoX's preprocessing drops empty documents.</summary>
    /// <exception cref="InvalidOperationException">The document has more ids than an int32 item size can count.</exception>
    public void EndDocument()
    {
        if (_current == 0) return;
        if (_current + 1 > int.MaxValue)
            throw new InvalidOperationException($"document {_sizes.Count} has {_current + 1:N0} ids, more than a NeoX item (int32 size) can hold");
        TokenFile.WriteIds(_bin.Stream, [_endOfText], NeoXDataset.DTypeWidth(_code));
        _sizes.Add((int)(_current + 1));
        _tokens += _current + 1;
        _current = 0;
    }

    /// <summary>Ends a pending document, writes the index and puts both files in place.</summary>
    public NeoXDatasetInfo Commit()
    {
        EndDocument();
        using (var idx = AtomicFile.Begin(NeoXDataset.IndexPath(_prefix)))
        {
            NeoXDataset.WriteIndex(idx.Stream, _code, _sizes);
            idx.FlushToDisk();
            _bin.Commit();   // data first, index last: an index always describes a complete .bin
            idx.Commit();
        }
        return new NeoXDatasetInfo(_prefix, _code, _sizes.Count, _sizes.Count, _tokens);
    }

    /// <summary>Abandons an uncommitted dataset.</summary>
    public void Dispose() => _bin.Dispose();
}
