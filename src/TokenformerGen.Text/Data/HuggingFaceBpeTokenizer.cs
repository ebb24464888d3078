using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using TokenformerGen.Text.Data.Unicode;

namespace TokenformerGen.Text.Data;

/// <summary>
/// A byte-level BPE tokenizer read from a Hugging Face <c>tokenizer.json</c> (GPT-NeoX-20B, GPT-2, Pythia …).
/// </summary>
/// <remarks>
/// Read: <c>model.vocab</c>, <c>model.merges</c> (each <c>"a b"</c> or <c>["a", "b"]</c>; list order is merge
/// priority), <c>added_tokens</c>, a <c>ByteLevel</c> pre-tokenizer (GPT-2 split regex, optional prefix space) and
/// an optional NFC normaliser (applied by <see cref="Unicode.Nfc"/> on every platform). Anything else (WordPiece, Unigram, other pre-tokenizers) is refused with a
/// message naming the file. Added tokens are matched verbatim in the text before BPE, longest first; their
/// <c>lstrip</c>/<c>rstrip</c>/<c>single_word</c> flags are ignored. The BPE itself runs in
/// <c>Microsoft.ML.Tokenizers</c>.
/// </remarks>
public sealed class HuggingFaceBpeTokenizer : LibraryTokenizer
{
    /// <summary>GPT-2's pre-tokenizer split, which the byte-level pre-tokenizer of <c>tokenizer.json</c> uses.</summary>
    internal const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly string _identity;
    private readonly bool _nfc;
    private readonly bool _addPrefixSpace;
    private readonly Dictionary<string, int> _added;
    private readonly Dictionary<int, string> _addedById;
    private readonly Regex? _addedPattern;

    private HuggingFaceBpeTokenizer(Tokenizer inner, int vocabularySize, string name, string identity, bool nfc, bool addPrefixSpace, Dictionary<string, int> added)
        : base(inner, vocabularySize)
    {
        Name = name;
        _identity = identity;
        _nfc = nfc;
        _addPrefixSpace = addPrefixSpace;
        _added = added;
        _addedById = added.GroupBy(a => a.Value).ToDictionary(g => g.Key, g => g.First().Key);
        _addedPattern = added.Count == 0 ? null
            : new Regex(string.Join('|', added.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape)), RegexOptions.CultureInvariant);
    }

    /// <summary>
    /// Ids at or above this (16,777,216) are refused: the largest released vocabularies have a few hundred thousand, and
    /// the model's embedding would need a row for each id below the largest.
    /// </summary>
    public const int MaxVocabularySize = 1 << 24;

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override string Identity => _identity;

    /// <summary>The added (special) tokens by content, e.g. <c>&lt;|endoftext|&gt;</c>.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => _added;

    /// <summary>The added token <c>&lt;|endoftext|&gt;</c> (0 in GPT-NeoX-20B), or null when the file has none.</summary>
    public override int? EndOfText => _added.TryGetValue("<|endoftext|>", out var id) ? id : null;

    /// <summary>Reads a <c>tokenizer.json</c>; a missing, unreadable or unsupported file is a <see cref="TokenizerException"/> naming it.</summary>
    public static HuggingFaceBpeTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"tokenizer file '{path}' cannot be read: {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Builds the tokenizer from the bytes of a <c>tokenizer.json</c>; <paramref name="source"/> names it in errors.</summary>
    public static HuggingFaceBpeTokenizer Parse(ReadOnlySpan<byte> json, string source)
    {
        // JsonDocument checks UTF-8 only when a string is read; text with bad bytes is refused here, before any is.
        if (!System.Text.Unicode.Utf8.IsValid(json)) throw Invalid(source, "it is not valid UTF-8 text");
        JsonDocument document;
        try { document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw Invalid(source, $"not valid JSON ({e.Message})", e); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Invalid(source, "the top level is not a JSON object");
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw Invalid(source, "it has no \"model\" object");
            var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "BPE";
            if (type != "BPE") throw Invalid(source, $"model type \"{type}\" is not supported (only byte-level BPE)");

            var vocab = ReadVocabulary(model, source);
            var merges = ReadMerges(model, source);
            var added = ReadAddedTokens(root, source);
            var (addPrefixSpace, nfc) = ReadPipeline(root, source);

            // Only bytes that UTF-8 text can contain must have a symbol: 0xC0, 0xC1 and 0xF5–0xFF never occur, and
            // GPT-NeoX-20B's vocabulary leaves exactly those 13 out.
            var byteSymbols = ByteLevelAlphabet();
            var missing = Enumerable.Range(0, 256).Where(b => OccursInUtf8((byte)b) && !vocab.ContainsKey(byteSymbols[b])).ToList();
            if (missing.Count > 0)
                throw Invalid(source, $"the vocabulary lacks {missing.Count} of the 243 byte-level symbols that UTF-8 text can need (e.g. \"{byteSymbols[missing[0]]}\" for byte 0x{missing[0]:X2}), so it is not a byte-level BPE vocabulary");
            for (var i = 0; i < merges.Count; i++)
            {
                var (a, b) = merges[i];
                if (!vocab.ContainsKey(a) || !vocab.ContainsKey(b) || !vocab.ContainsKey(a + b))
                    throw Invalid(source, $"merge {i} (\"{a}\" \"{b}\") uses a token missing from model.vocab");
            }

            var size = Math.Max(vocab.Values.Max(), added.Count == 0 ? -1 : added.Values.Max()) + 1;
            BpeTokenizer inner;
            try
            {
                inner = BpeTokenizer.Create(new BpeOptions(vocab)
                {
                    Merges = merges.Select(m => $"{m.A} {m.B}"),
                    ByteLevel = true,
                    PreTokenizer = new RegexPreTokenizer(new Regex(Gpt2SplitPattern, RegexOptions.CultureInvariant), null),
                });
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
            {
                throw Invalid(source, $"the BPE model was rejected ({e.Message})", e);
            }
            var hash = Convert.ToHexStringLower(SHA256.HashData(json))[..16];
            var name = "hf-" + Path.GetFileNameWithoutExtension(source);
            // NFC's Unicode version is part of the identity: corpus caches made before it was applied, or with other tables, differ.
            var identity = $"hf-bpe/{hash}/ML.Tokenizers-{LibraryVersion}" + (nfc ? $"/nfc-{Unicode.Nfc.UnicodeVersion}" : "");
            return new HuggingFaceBpeTokenizer(inner, size, name, identity, nfc, addPrefixSpace, added);
        }
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement model, string source)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw Invalid(source, "model.vocab is missing or not an object");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0 || id >= MaxVocabularySize)
                throw Invalid(source, $"model.vocab entry \"{entry.Name}\" has no integer id in [0, {MaxVocabularySize:N0})");
            result[entry.Name] = id;
        }
        if (result.Count == 0) throw Invalid(source, "model.vocab is empty");
        return result;
    }

    private static List<(string A, string B)> ReadMerges(JsonElement model, string source)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array)
            throw Invalid(source, "model.merges is missing or not an array");
        var result = new List<(string, string)>(merges.GetArrayLength());
        var index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String)
            {
                var parts = merge.GetString()!.Split(' ');
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                    throw Invalid(source, $"model.merges[{index}] \"{merge.GetString()}\" is not two tokens separated by one space");
                result.Add((parts[0], parts[1]));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                var (a, b) = (merge[0].GetString()!, merge[1].GetString()!);
                if (a.Contains(' ') || b.Contains(' '))
                    throw Invalid(source, $"model.merges[{index}] has a token containing a space, which byte-level BPE never produces");
                result.Add((a, b));
            }
            else throw Invalid(source, $"model.merges[{index}] is neither \"a b\" nor [\"a\", \"b\"]");
            index++;
        }
        return result;
    }

    private static Dictionary<string, int> ReadAddedTokens(JsonElement root, string source)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind == JsonValueKind.Null) return result;
        if (added.ValueKind != JsonValueKind.Array) throw Invalid(source, "added_tokens is not an array");
        var index = 0;
        foreach (var token in added.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var value) || value < 0 || value >= MaxVocabularySize
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String
                || content.GetString()!.Length == 0)
                throw Invalid(source, $"added_tokens[{index}] needs an integer \"id\" in [0, {MaxVocabularySize:N0}) and a non-empty \"content\"");
            result[content.GetString()!] = value;
            index++;
        }
        return result;
    }

    private static (bool AddPrefixSpace, bool Nfc) ReadPipeline(JsonElement root, string source)
    {
        var nfc = false;
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
        {
            var type = TypeOf(normalizer);
            if (type != "NFC") throw Invalid(source, $"normalizer \"{type}\" is not supported (only none or NFC)");
            nfc = true;
        }
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || TypeOf(pre) != "ByteLevel")
            throw Invalid(source, $"pre_tokenizer \"{(root.TryGetProperty("pre_tokenizer", out var p) ? TypeOf(p) : "none")}\" is not supported (only ByteLevel, as GPT-2 and GPT-NeoX use)");
        if (pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False)
            throw Invalid(source, "a ByteLevel pre_tokenizer with use_regex=false is not supported");
        var prefix = pre.TryGetProperty("add_prefix_space", out var ps) && ps.ValueKind == JsonValueKind.True;
        return (prefix, nfc);
    }

    private static string TypeOf(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()! : element.ValueKind.ToString();

    private static TokenizerException Invalid(string source, string why, Exception? inner = null) =>
        new($"tokenizer file '{source}' is not a usable tokenizer.json: {why}", inner);

    /// <summary>
    /// The 256 printable stand-ins byte-level BPE uses for bytes 0..255: printable Latin-1 bytes stand for
    /// themselves, the others are mapped in order to U+0100 upwards (so a space is "Ġ", U+0120).
    /// </summary>
    internal static string[] ByteLevelAlphabet()
    {
        var symbols = new string[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            symbols[b] = ((char)(printable ? b : next++)).ToString();
        }
        return symbols;
    }

    /// <summary>Whether byte <paramref name="b"/> can occur in well-formed UTF-8 (all but 0xC0, 0xC1 and 0xF5–0xFF).</summary>
    internal static bool OccursInUtf8(byte b) => b is not (0xC0 or 0xC1) && b < 0xF5;

    /// <summary>
    /// Whether encoding applies NFC first, as the file's normaliser asks. It is applied by <see cref="Unicode.Nfc"/>, not by
    /// <see cref="string.Normalize()"/>, which returns text unchanged under <c>InvariantGlobalization</c> (this project's
    /// default), so a decomposed accent encodes as its composed form on every platform, as Hugging Face's does.
    /// </summary>
    public bool AppliesNfc => _nfc;

    /// <inheritdoc/>
    private protected override string Normalize(string text) => _nfc ? Unicode.Nfc.Normalize(text) : text;

    /// <summary>Encodes text, matching added tokens first and running BPE on the pieces between them.</summary>
    public override int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_addPrefixSpace && text.Length > 0 && !char.IsWhiteSpace(text[0])) text = " " + text;
        if (_addedPattern is null) return EncodeWithLibrary(text);
        var ids = new List<int>();
        var at = 0;
        foreach (Match match in _addedPattern.Matches(text))
        {
            if (match.Index > at) ids.AddRange(EncodeWithLibrary(text[at..match.Index]));
            ids.Add(_added[match.Value]);
            at = match.Index + match.Length;
        }
        if (at < text.Length) ids.AddRange(EncodeWithLibrary(text[at..]));
        return [.. ids];
    }

    /// <summary>Decodes ids; added tokens decode to their content, unknown ids to U+FFFD.</summary>
    public override string Decode(ReadOnlySpan<int> ids)
    {
        if (_addedById.Count == 0) return DecodeWithLibrary(ids);
        var text = new StringBuilder();
        var start = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            if (!_addedById.TryGetValue(ids[i], out var content)) continue;
            text.Append(DecodeWithLibrary(ids[start..i])).Append(content);
            start = i + 1;
        }
        return text.Append(DecodeWithLibrary(ids[start..])).ToString();
    }
}
