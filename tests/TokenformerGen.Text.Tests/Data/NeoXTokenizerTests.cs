using System.Security.Cryptography;
using System.Text.Json;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Text.Tests.Data;

/// <summary>
/// The shipped GPT-NeoX-20B tokenizer. Expected ids are worked out by hand from the file's <c>model.vocab</c> and
/// <c>model.merges</c> (merge rank = position in the list, lowest applied first); each case lists the merges.
/// </summary>
public sealed class NeoXTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tfg-neox-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static HuggingFaceBpeTokenizer Tok => NeoXTokenizer.Instance;

    [Fact]
    public void TheEmbeddedFileIsThePublishedOneAndLoads()
    {
        var json = NeoXTokenizer.Json();
        Assert.Equal(2_467_981, json.Length);
        Assert.Equal(NeoXTokenizer.Sha256, Convert.ToHexStringLower(SHA256.HashData(json)));
        Assert.Equal(NeoXTokenizer.VocabularySize, Tok.VocabularySize);
        Assert.Equal(0, Tok.EndOfText);
        Assert.Equal(1, Tok.AddedTokens["<|padding|>"]);
        Assert.Equal("hf-neox-20b-tokenizer", Tok.Name);
    }

    [Fact]
    public void ItsVocabularyLacksExactlyTheThirteenBytesUtf8NeverUses()
    {
        // The bug this fixes: the loader demanded all 256 byte symbols; GPT-NeoX-20B has 243.
        using var document = JsonDocument.Parse(NeoXTokenizer.Json());
        var vocab = document.RootElement.GetProperty("model").GetProperty("vocab");
        var alphabet = HuggingFaceBpeTokenizer.ByteLevelAlphabet();
        var missing = Enumerable.Range(0, 256).Where(b => !vocab.TryGetProperty(alphabet[b], out _)).ToList();
        Assert.Equal([0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF], missing);
        Assert.All(missing, b => Assert.False(HuggingFaceBpeTokenizer.OccursInUtf8((byte)b)));
    }

    [Fact]
    public void HelloWorld()
    {
        // "Hello": e+l (rank 48) → el; el+l (192) → ell; ell+o (6401) → ello; H+ello (11847) → "Hello" = 12092.
        // " world": Ġ+w (14), o+r (18), l+d (147), Ġw+or (303), Ġwor+ld (1288) → "Ġworld" = 1533.
        Assert.Equal([12092, 1533], Tok.Encode("Hello world"));
    }

    [Fact]
    public void MergeOrderDecidesTheSplit()
    {
        // " tokenizer" = Ġ t o k e n i z e r: Ġ+t (1); e+r (9) on the last "e r"; e+n (12) on the first e; Ġt+o (36);
        // i+z (233); k+en (3367); iz+er (5836); Ġto+ken (10424). "Ġtoken"+"izer" has no merge:
        // "Ġtoken" = 10669, "izer" = 6081.
        Assert.Equal([10669, 6081], Tok.Encode(" tokenizer"));
        // "lower": e+r (9), o+w (74), l+ow (431), low+er (12728) → "lower" = 12973.
        Assert.Equal([12973], Tok.Encode("lower"));
    }

    [Fact]
    public void MultiByteCharactersGoThroughTheByteAlphabet()
    {
        // "café": é is C3 A9 → symbols "Ã" "©". Ã+© (615) → "Ã©" = 860; a+f (2075) → "af" = 2320; c = 68.
        Assert.Equal([68, 2320, 860], Tok.Encode("café"));
        // U+1F642 is F0 9F 99 82 → "ð" "Ł" "Ļ" "Ĥ"; ð+Ł (14686) → 14931, Ļ+Ĥ (18468) → 18713.
        Assert.Equal([14931, 18713], Tok.Encode("\U0001F642"));
    }

    [Fact]
    public void RunsOfSpacesAreTheirAddedTokensAndSpecialTokensAreMatchedFirst()
    {
        // "def f():\n    return": def = 1545; " f" = Ġ+f → 269; "():" = 14850; "\n" = "Ċ" = 187; four spaces are the
        // added token 50274 (the runs of 2..24 spaces are ids 50276..50254), taken before the BPE split, so "return"
        // keeps no leading space: 2309.
        Assert.Equal([1545, 269, 14850, 187, 50274, 2309], Tok.Encode("def f():\n    return"));
        // Two spaces: 50276 ("ĠĠ" = 245 in model.vocab is never produced for them). One space stays with the word.
        Assert.Equal([66, 50276, 67], Tok.Encode("a  b"));
        Assert.Equal([66, 270], Tok.Encode("a b"));
        // <|endoftext|> = 0 and <|padding|> = 1 are matched verbatim before anything else.
        Assert.Equal([66, 0, 67, 1], Tok.Encode("a<|endoftext|>b<|padding|>"));
    }

    [Fact]
    public void DecodingGivesTheTextBack()
    {
        const string text = "In the beginning God created the heaven and the earth.\n\n    café 世界 \U0001F642<|endoftext|>";
        Assert.Equal(text, Tok.Decode(Tok.Encode(text)));
    }

    [Fact]
    public void AVocabularyMissingAByteThatUtf8UsesIsStillRefused()
    {
        var alphabet = HuggingFaceBpeTokenizer.ByteLevelAlphabet();
        string Write(string name, Func<int, bool> keep)
        {
            var vocab = Enumerable.Range(0, 256).Where(keep).ToDictionary(b => alphabet[b], b => b);
            var json = new Dictionary<string, object?>
            {
                ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "ByteLevel" },
                ["model"] = new Dictionary<string, object> { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = Array.Empty<string>() },
            };
            var path = Path.Combine(_dir, name);
            File.WriteAllText(path, JsonSerializer.Serialize(json));
            return path;
        }

        var utf8Only = HuggingFaceBpeTokenizer.Load(Write("utf8only.json", b => HuggingFaceBpeTokenizer.OccursInUtf8((byte)b)));
        Assert.Equal([0x41, 0xC3, 0xA9], utf8Only.Encode("Aé"));
        var e = Assert.Throws<TokenizerException>(() => HuggingFaceBpeTokenizer.Load(Write("noA.json", b => b != 'A')));
        Assert.Contains("byte 0x41", e.Message);
        Assert.Contains("noA.json", e.Message);
    }
}
