using System.Text;
using System.Text.Json;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Text.Tests.Data;

public sealed class TokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tfg-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ByteTokenizerRoundTripsMultiByteUtf8()
    {
        const string text = "héllo, 世界 🎉\n";
        var ids = ByteTokenizer.Instance.Encode(text);
        Assert.Equal(Encoding.UTF8.GetBytes(text).Select(b => (int)b), ids);
        Assert.Equal(text, ByteTokenizer.Instance.Decode(ids));
        Assert.Equal(Encoding.UTF8.GetByteCount(text), ByteTokenizer.Instance.CountBytes(ids));
    }

    [Fact]
    public void ByteTokenizerDecodesPaddingIdsAndInvalidUtf8AsReplacementCharacters()
    {
        Assert.Equal("a\uFFFDb\uFFFD", ByteTokenizer.Instance.Decode([97, 300, 98, -1]));
        Assert.Equal("\uFFFDz", ByteTokenizer.Instance.Decode([0xC3, 'z']));   // a lead byte with no continuation
        Assert.Equal("\uFFFD", ByteTokenizer.Instance.Decode([0xFF]));
        Assert.Equal(2, ByteTokenizer.Instance.CountBytes([97, 300, 98]));
    }

    [Fact]
    public void Gpt2EncodesKnownIdsAndRoundTrips()
    {
        var gpt2 = Gpt2Tokenizer.Instance;
        Assert.Equal(50257, gpt2.VocabularySize);
        Assert.Equal([15496, 995], gpt2.Encode("Hello world"));
        const string text = "In the beginning God created the heaven and the earth.\n\n  Ünïcödé 世界 ✓";
        Assert.Equal(text, gpt2.Decode(gpt2.Encode(text)));
        Assert.Equal("Hello\uFFFD world", gpt2.Decode([15496, 50300, 995]));
    }

    // A tiny byte-level tokenizer.json: ids 0..255 are the byte symbols in byte order (space = "Ġ" = 32), then
    // merges by priority: "Ġ t" → 256, "h e" → 257, "Ġt he" → 258, "e n" → 259; added "<|end|>" → 260.
    private string WriteTinyTokenizer(bool pairMerges, string? normalizer = null, string preTokenizer = "ByteLevel", string fileName = "tokenizer.json")
    {
        var alphabet = HuggingFaceBpeTokenizer.ByteLevelAlphabet();
        var vocab = new Dictionary<string, int>();
        for (var b = 0; b < 256; b++) vocab[alphabet[b]] = b;
        string[][] merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["e", "n"]];
        foreach (var m in merges) vocab[m[0] + m[1]] = vocab.Count;
        var json = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["added_tokens"] = new[] { new Dictionary<string, object> { ["id"] = 260, ["content"] = "<|end|>", ["special"] = true } },
            ["normalizer"] = normalizer is null ? null : new Dictionary<string, string> { ["type"] = normalizer },
            ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = preTokenizer, ["add_prefix_space"] = false, ["trim_offsets"] = true },
            ["decoder"] = new Dictionary<string, object> { ["type"] = "ByteLevel" },
            ["model"] = new Dictionary<string, object>
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = pairMerges ? merges : merges.Select(m => $"{m[0]} {m[1]}").ToArray(),
            },
        };
        var path = Path.Combine(_dir, fileName);
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TokenizerJsonBpeGivesHandDerivedIds(bool pairMerges)
    {
        var tok = HuggingFaceBpeTokenizer.Load(WriteTinyTokenizer(pairMerges));
        Assert.Equal(261, tok.VocabularySize);
        // "the": t·h·e → t·he (h e, rank 1); "t he" is no merge → [t, he].
        Assert.Equal([116, 257], tok.Encode("the"));
        // " hen": Ġ·h·e·n → "h e" (rank 1) wins over "e n" (rank 3) → Ġ·he·n.
        Assert.Equal([32, 257, 110], tok.Encode(" hen"));
        // " then": Ġ t (rank 0) → Ġt·h·e·n; h e → Ġt·he·n; Ġt he (rank 2) → Ġthe·n.
        Assert.Equal([258, 110], tok.Encode(" then"));
        // "en": e n (rank 3) → en. Multi-byte "é" is bytes C3 A9 with no merges.
        Assert.Equal([259, 0xC3, 0xA9], tok.Encode("ené"));
        // Added tokens are matched before BPE; the GPT-2 split keeps "the" and " then" apart.
        Assert.Equal([116, 257, 260, 258, 110, 10], tok.Encode("the<|end|> then\n"));
        const string text = "the hen, then: ené 世界<|end|>\n\n";
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal("he\uFFFD", tok.Decode([257, 5000]));
    }

    [Fact]
    public void TokenizerJsonNfcNormalizerComposesBeforeEncoding()
    {
        var tok = HuggingFaceBpeTokenizer.Load(WriteTinyTokenizer(false, normalizer: "NFC"));
        Assert.True(tok.AppliesNfc);
        Assert.Equal([0xC3, 0xA9], tok.Encode("\u00E9"));
        // Composed although the tests run under InvariantGlobalization, where string.Normalize changes nothing.
        Assert.Equal([0xC3, 0xA9], tok.Encode("e\u0301"));
        Assert.Equal([101, 0xCC, 0x81], HuggingFaceBpeTokenizer.Load(WriteTinyTokenizer(false)).Encode("e\u0301"));
    }

    [Fact]
    public void MissingOrUnusableTokenizerJsonIsAClearErrorNamingTheFile()
    {
        var missing = Path.Combine(_dir, "nope.json");
        Assert.Contains(missing, Assert.Throws<TokenizerException>(() => HuggingFaceBpeTokenizer.Load(missing)).Message);

        var broken = Path.Combine(_dir, "broken.json");
        File.WriteAllText(broken, "{ \"model\": ");
        var e = Assert.Throws<TokenizerException>(() => Tokenizers.For(TokenizerKind.NeoX, broken, 50304));
        Assert.Contains(broken, e.Message);
        Assert.Contains("JSON", e.Message);

        var wordPiece = Path.Combine(_dir, "wp.json");
        File.WriteAllText(wordPiece, """{ "model": { "type": "WordPiece", "vocab": { "a": 0 } } }""");
        Assert.Contains("WordPiece", Assert.Throws<TokenizerException>(() => HuggingFaceBpeTokenizer.Load(wordPiece)).Message);

        var otherPre = WriteTinyTokenizer(false, preTokenizer: "Whitespace", fileName: "ws.json");
        Assert.Contains("Whitespace", Assert.Throws<TokenizerException>(() => HuggingFaceBpeTokenizer.Load(otherPre)).Message);
    }

    [Fact]
    public void FactoryPicksTheFamilysTokenizer()
    {
        var bytes = Tokenizers.For(TokenizerKind.Byte, null, 512);
        Assert.Same(ByteTokenizer.Instance, bytes.Tokenizer);
        Assert.Same(Gpt2Tokenizer.Instance, Tokenizers.For(TokenizerKind.Gpt2, null, 50304).Tokenizer);
        var file = Tokenizers.For(TokenizerKind.NeoX, WriteTinyTokenizer(false), 512);
        Assert.IsType<HuggingFaceBpeTokenizer>(file.Tokenizer);
        Assert.Contains("tokenizer.json", file.Note);
    }

    [Fact]
    public void NeoXWithoutAFileIsTheShippedGptNeoX20BTokenizer()
    {
        var choice = Tokenizers.For(TokenizerKind.NeoX, null, 50304);
        Assert.Same(NeoXTokenizer.Instance, choice.Tokenizer);
        Assert.Contains("GPT-NeoX-20B", choice.Note);

        var e = Assert.Throws<TokenizerException>(() => Tokenizers.For(TokenizerKind.NeoX, null, 1024));
        Assert.Contains("50,277", e.Message);
        Assert.Contains("1,024", e.Message);
    }

    [Fact]
    public void ATokenizerLargerThanThePaddedVocabularyIsRefusedWithBothNumbers()
    {
        var e = Assert.Throws<TokenizerException>(() => Tokenizers.For(TokenizerKind.Gpt2, null, 256));
        Assert.Contains("50,257", e.Message);
        Assert.Contains("256", e.Message);
        var small = Assert.Throws<TokenizerException>(() => Tokenizers.For(TokenizerKind.NeoX, WriteTinyTokenizer(false), 260));
        Assert.Contains("261", small.Message);
        Assert.Contains("260", small.Message);
    }
}
