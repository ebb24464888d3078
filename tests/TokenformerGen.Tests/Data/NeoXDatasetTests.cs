using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using TokenformerGen.Data;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Tests.Data;

public sealed class NeoXDatasetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tfg-neox-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Prefix(string name = "set") => Path.Combine(_dir, name);

    private static int[] All(TokenCorpus corpus) => corpus.Read(0, (int)corpus.Count);

    // The index of three documents [5 6 7 | 8 | 9 10] (+ end-of-text 0) in uint16, byte by byte as indexed_dataset.py writes it.
    private static byte[] ExpectedIndex()
    {
        var bytes = new List<byte>();
        void U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); bytes.AddRange(b); }
        void I32(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); bytes.AddRange(b); }
        bytes.AddRange("MMIDIDX\0\0"u8.ToArray());
        U64(1);
        bytes.Add(8);              // uint16
        U64(3);                    // items
        U64(4);                    // document index entries
        I32(4); I32(2); I32(3);    // sizes, end-of-text included
        U64(0); U64(8); U64(12);   // byte pointers: 4 and 2 uint16 before the 2nd and 3rd item
        U64(0); U64(1); U64(2); U64(3);
        return [.. bytes];
    }

    [Fact]
    public void WritesTheOfficialLayoutByteForByte()
    {
        var info = NeoXDataset.Write(Prefix(), [[5, 6, 7], [8], [], [9, 10]], vocabularySize: 50277, endOfText: 0);
        Assert.Equal(new NeoXDatasetInfo(Prefix(), 8, 3, 3, 9), info);
        Assert.Equal(ExpectedIndex(), File.ReadAllBytes(Prefix() + ".idx"));
        Assert.Equal(new byte[] { 5, 0, 6, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 10, 0, 0, 0 }, File.ReadAllBytes(Prefix() + ".bin"));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Theory]
    [InlineData(256, 8)]
    [InlineData(50277, 8)]
    [InlineData(65499, 8)]
    [InlineData(65500, 4)]
    [InlineData(100277, 4)]
    public void TheDtypeFollowsTheVocabularyAsThePreprocessingChoosesIt(int vocabulary, byte code)
    {
        var info = NeoXDataset.Write(Prefix(), [[vocabulary - 1, 1]], vocabulary, 0);
        Assert.Equal(code, info.DTypeCode);
        Assert.Equal(code, File.ReadAllBytes(Prefix() + ".idx")[17]);
        using var corpus = TokenCorpus.OpenNeoX(Prefix(), new FixedVocabulary(vocabulary));
        Assert.Equal([vocabulary - 1, 1, 0], All(corpus));
    }

    [Fact]
    public void IdsRoundTripBitExactlyAndSplitLikeText()
    {
        var random = new Random(7);
        var documents = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, random.Next(1, 60)).Select(_ => random.Next(1, 50277)).ToArray()).ToList();
        NeoXDataset.Write(Prefix(), documents, 50277, 0);
        using var corpus = TokenCorpus.OpenNeoX(Prefix(), NeoXTokenizer.Instance);
        var expected = documents.SelectMany(d => d.Append(0)).ToArray();
        Assert.Equal(expected, All(corpus));
        Assert.Equal(TokenCorpus.HeldOutCount(expected.Length), corpus.Validation.Length + corpus.Test.Length);
        Assert.Equal(expected.Length, corpus.Test.End);
        Assert.Equal(0, corpus.HeldOutBytes);
        Assert.Null(new CorpusBatchSource(corpus, 1).TokensPerByte);   // pre-tokenized: no bytes, so no bits per byte
        Assert.Equal(40, corpus.Dataset!.Documents);
    }

    [Fact]
    public void ATextFileIsOneDocumentWithTheSameIdsAsTheTextCorpus()
    {
        var text = string.Concat(Enumerable.Range(0, 300).Select(i => $"  {i} And God said, Let there be light: and there was light.\n\n"));
        var path = Path.Combine(_dir, "book.txt.gz");
        using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest)) gz.Write(Encoding.UTF8.GetBytes(text));

        var info = NeoXDataset.FromText(path, NeoXTokenizer.Instance, Prefix());
        Assert.Equal((1L, 1L), (info.Items, info.Documents));
        using var fromText = TokenCorpus.Open(path, NeoXTokenizer.Instance, Path.Combine(_dir, "cache"));
        using var fromDataset = TokenCorpus.OpenNeoX(Prefix(), NeoXTokenizer.Instance);
        Assert.Equal([.. All(fromText), 0], All(fromDataset));
        Assert.Equal(text, NeoXTokenizer.Instance.Decode(All(fromDataset)[..^1]));
    }

    [Fact]
    public void JsonLinesGiveOneDocumentPerLineFromTheTextField()
    {
        var path = Path.Combine(_dir, "docs.jsonl");
        File.WriteAllText(path, "{\"text\": \"Hello world\", \"meta\": 1}\n\n{\"text\": \"\"}\n{\"text\": \"a  b\"}\n");
        var info = NeoXDataset.FromText(path, NeoXTokenizer.Instance, Prefix());
        Assert.Equal(2, info.Documents);   // the empty text is dropped, as the official preprocessing drops it
        using var corpus = TokenCorpus.OpenNeoX(Prefix(), NeoXTokenizer.Instance);
        Assert.Equal([12092, 1533, 0, 66, 50276, 67, 0], All(corpus));

        File.WriteAllText(path, "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => NeoXDataset.FromText(path, NeoXTokenizer.Instance, Prefix("other")));
        Assert.Contains($"{path}:2", e.Message);
        Assert.False(NeoXDataset.Exists(Prefix("other")));
    }

    [Fact]
    public void PythonReadsTheIndexAsIndexedDatasetDoes()
    {
        if (Python.Find() is not { } python) return;   // optional cross-check
        NeoXDataset.Write(Prefix(), [[5, 6, 7], [8], [9, 10]], 50277, 0);
        const string script = """
            import json, struct, sys
            p = sys.argv[1]
            idx = open(p + ".idx", "rb").read()
            assert idx[:9] == b"MMIDIDX\x00\x00"
            (version,) = struct.unpack_from("<Q", idx, 9)
            (code,) = struct.unpack_from("<B", idx, 17)
            n, docs = struct.unpack_from("<QQ", idx, 18)
            o = 34
            sizes = struct.unpack_from("<%di" % n, idx, o); o += 4 * n
            pointers = struct.unpack_from("<%dq" % n, idx, o); o += 8 * n
            doc_idx = struct.unpack_from("<%dq" % docs, idx, o)
            binary = open(p + ".bin", "rb").read()
            items = [list(struct.unpack_from("<%dH" % s, binary, ptr)) for s, ptr in zip(sizes, pointers)]
            print(json.dumps({"version": version, "code": code, "doc_idx": list(doc_idx), "items": items}))
            """;
        using var json = JsonDocument.Parse(Python.Run(python, _dir, script, Prefix()));
        var root = json.RootElement;
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.Equal(8, root.GetProperty("code").GetInt32());
        Assert.Equal([0L, 1, 2, 3], root.GetProperty("doc_idx").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("[[5,6,7,0],[8,0],[9,10,0]]", root.GetProperty("items").GetRawText().Replace(" ", ""));
    }

    public static TheoryData<string, string> BrokenIndexes => new()
    {
        { "magic", "bad magic" },
        { "version", "version 2" },
        { "float dtype", "dtype code 6 (float32)" },
        { "unknown dtype", "dtype code 9" },
        { "truncated index", "need" },
        { "gap between items", "item 1 points at byte 10" },
        { "negative size", "item 2 has size -1" },
        { "bin too short", "past the end" },
        { "bin too long", "but" },
        { "document index not rising", "document index entry 2 is 0" },
        { "document index short", "ends at item 2, not at the item count 3" },
        { "id outside vocabulary", "id 300 at token 4 is outside the tokenizer's vocabulary [0, 256)" },
        { "missing bin", "does not exist" },
    };

    [Theory]
    [MemberData(nameof(BrokenIndexes))]
    public void EachBrokenInputIsOneClearError(string breakage, string expected)
    {
        var prefix = Prefix();
        NeoXDataset.Write(prefix, [[5, 6, 7], [8], [9, 10]], 256, 0);
        var idx = File.ReadAllBytes(prefix + ".idx");
        var bin = File.ReadAllBytes(prefix + ".bin");
        const int sizes = 34, pointers = sizes + 3 * 4, documents = pointers + 3 * 8;
        switch (breakage)
        {
            case "magic": idx[0] = (byte)'X'; break;
            case "version": idx[9] = 2; break;
            case "float dtype": idx[17] = 6; break;
            case "unknown dtype": idx[17] = 9; break;
            case "truncated index": idx = idx[..^8]; break;
            case "gap between items": BinaryPrimitives.WriteInt64LittleEndian(idx.AsSpan(pointers + 8), 10); break;
            case "negative size": BinaryPrimitives.WriteInt32LittleEndian(idx.AsSpan(sizes + 8), -1); break;
            case "bin too short": bin = bin[..^2]; break;
            case "bin too long": bin = [.. bin, 0, 0]; break;
            case "document index not rising": BinaryPrimitives.WriteInt64LittleEndian(idx.AsSpan(documents + 16), 0); break;
            case "document index short": BinaryPrimitives.WriteInt64LittleEndian(idx.AsSpan(documents + 24), 2); break;
            case "id outside vocabulary": BinaryPrimitives.WriteUInt16LittleEndian(bin.AsSpan(8), 300); break;
            case "missing bin": File.Delete(prefix + ".bin"); break;
        }
        File.WriteAllBytes(prefix + ".idx", idx);
        if (breakage != "missing bin") File.WriteAllBytes(prefix + ".bin", bin);

        var e = Assert.Throws<NeoXDatasetException>(() => TokenCorpus.OpenNeoX(prefix, ByteTokenizer.Instance).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(prefix, e.Message);
    }

    [Fact]
    public void APrefixIsFoundFromEitherFileName()
    {
        NeoXDataset.Write(Prefix(), [[1]], 256, 0);
        Assert.Equal(Prefix(), NeoXDataset.PrefixOf(Prefix()));
        Assert.Equal(Prefix(), NeoXDataset.PrefixOf(Prefix() + ".bin"));
        Assert.Equal(Prefix(), NeoXDataset.PrefixOf(Prefix() + ".idx"));
        Assert.Null(NeoXDataset.PrefixOf(Prefix("nothing")));
    }

    [Fact]
    public void AnUnfinishedWriteLeavesNoFiles()
    {
        using (var writer = new NeoXDatasetWriter(Prefix(), 256, 0))
        {
            writer.Add([1, 2, 3]);
            Assert.Throws<ArgumentException>(() => writer.Add([256]));
        }
        Assert.Empty(Directory.GetFiles(_dir));
    }

    /// <summary>A stand-in tokenizer that only has a vocabulary size (datasets never encode text).</summary>
    private sealed class FixedVocabulary(int size) : ITextTokenizer
    {
        public string Name => "fixed";
        public string Identity => $"fixed/{size}";
        public int VocabularySize => size;
        public int[] Encode(string text) => throw new NotSupportedException();
        public string Decode(ReadOnlySpan<int> ids) => throw new NotSupportedException();
        public long CountBytes(ReadOnlySpan<int> ids) => throw new NotSupportedException();
    }
}
