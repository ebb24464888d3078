using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using TokenformerGen.Data;
using TokenformerGen.Tests.Support;
using TokenformerGen.Text.Data;
using TokenformerGen.Training;

namespace TokenformerGen.Tests.Data;

public sealed class TokenCorpusTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tfg-corpus-").FullName;
    private string Cache => Path.Combine(_dir, "cache");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteText(string text, string name = "corpus.txt")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    // 1,000 bytes of varied ASCII: 950 training and 50 validation tokens with the byte tokenizer.
    private static string Text1000() =>
        string.Concat(Enumerable.Range(0, 200).Select(i => $"v{i % 10} abc{(char)('a' + i % 26)}\n"))[..1000];

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void MemoryMappedReadsReturnTheExactIdsWritten(int bytesPerId)
    {
        var max = bytesPerId == 2 ? ushort.MaxValue : 1_000_000;
        var ids = Enumerable.Range(0, 5000).Select(i => (int)((i * 7919L) % (max + 1))).ToArray();
        ids[0] = max;
        var path = Path.Combine(_dir, $"ids{bytesPerId}.tokens");
        var header = new TokenFile.Header(bytesPerId, ids.Length, max + 1, 0, 0);
        TokenformerGen.Checkpoints.AtomicFile.Write(path, s => { s.Position = TokenFile.HeaderSize; TokenFile.WriteIds(s, ids, bytesPerId); TokenFile.WriteHeader(s, header); });

        Assert.Equal(header, TokenFile.TryReadHeader(path, out _));
        Assert.Equal(TokenFile.HeaderSize + ids.Length * bytesPerId, new FileInfo(path).Length);
        using var mapped = new MappedTokens(path, header);
        var all = new int[ids.Length];
        mapped.Read(0, all);
        Assert.Equal(ids, all);
        var middle = new int[17];
        mapped.Read(4000, middle);
        Assert.Equal(ids[4000..4017], middle);
        Assert.Throws<ArgumentOutOfRangeException>(() => mapped.Read(ids.Length - 3, new int[4]));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void CacheIsBuiltOnceThenReused()
    {
        var corpus = WriteText("héllo wörld\nIn the beginning\n");
        string cachePath;
        DateTime written;
        using (var first = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache))
        {
            Assert.True(first.WasBuilt);
            Assert.Equal("no cache", first.RebuildReason);
            cachePath = first.CachePath;
            Assert.StartsWith(Path.Combine(Cache, "corpus.byte."), cachePath);
            Assert.Equal(Encoding.UTF8.GetBytes("héllo wörld\nIn the beginning\n").Select(b => (int)b), first.Read(0, (int)first.Count));
            written = File.GetLastWriteTimeUtc(cachePath);
        }
        using var second = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache);
        Assert.False(second.WasBuilt);
        Assert.Null(second.RebuildReason);
        Assert.Equal(cachePath, second.CachePath);
        Assert.Equal(written, File.GetLastWriteTimeUtc(cachePath));
        Assert.Single(Directory.GetFiles(Cache));
    }

    [Fact]
    public void AChangedCorpusOrTokenizerGetsANewCache()
    {
        var corpus = WriteText("In the beginning God created the heaven and the earth.\n");
        using var first = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache);
        WriteText("In the beginning was the Word.\n");
        using var changed = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache);
        Assert.True(changed.WasBuilt);
        Assert.NotEqual(first.CachePath, changed.CachePath);
        Assert.Equal(Encoding.UTF8.GetBytes("In the beginning was the Word.\n").Select(b => (int)b), changed.Read(0, (int)changed.Count));

        using var gpt2 = TokenCorpus.Open(corpus, Gpt2Tokenizer.Instance, Cache);
        Assert.True(gpt2.WasBuilt);
        Assert.Contains(".gpt2.", Path.GetFileName(gpt2.CachePath));
        Assert.Equal(Gpt2Tokenizer.Instance.Encode("In the beginning was the Word.\n"), gpt2.Read(0, (int)gpt2.Count));
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("magic")]
    [InlineData("empty")]
    public void ACorruptCacheIsRebuilt(string damage)
    {
        var text = Text1000();
        var corpus = WriteText(text);
        string cachePath;
        using (var first = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache)) cachePath = first.CachePath;
        using (var file = new FileStream(cachePath, FileMode.Open, FileAccess.ReadWrite))
        {
            if (damage == "truncate") file.SetLength(file.Length - 3);
            else if (damage == "magic") file.WriteByte((byte)'X');
            else file.SetLength(0);
        }
        using var rebuilt = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache);
        Assert.True(rebuilt.WasBuilt);
        Assert.StartsWith("corrupt cache", rebuilt.RebuildReason);
        Assert.Equal(cachePath, rebuilt.CachePath);
        Assert.Equal(text.Select(c => (int)c), rebuilt.Read(0, (int)rebuilt.Count));
        using var reused = TokenCorpus.Open(corpus, ByteTokenizer.Instance, Cache);
        Assert.False(reused.WasBuilt);
    }

    [Fact]
    public void GzipCorpusGivesTheSameIdsAsPlainText()
    {
        var text = Text1000();
        var gz = Path.Combine(_dir, "corpus.txt.gz");
        using (var gzip = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
            gzip.Write(Encoding.UTF8.GetBytes(text));
        using var plain = TokenCorpus.Open(WriteText(text), ByteTokenizer.Instance, Cache);
        using var zipped = TokenCorpus.Open(gz, ByteTokenizer.Instance, Cache);
        Assert.NotEqual(plain.CachePath, zipped.CachePath);
        Assert.Equal(plain.Read(0, (int)plain.Count), zipped.Read(0, (int)zipped.Count));
        Assert.Throws<FileNotFoundException>(() => TokenCorpus.Open(Path.Combine(_dir, "missing.txt"), ByteTokenizer.Instance, Cache));
    }

    [Fact]
    public void SplitIsTheContiguousTailInTwoHalvesAndCountsHeldOutBytes()
    {
        var text = Text1000();
        using var corpus = TokenCorpus.Open(WriteText(text), ByteTokenizer.Instance, Cache);
        Assert.Equal(1000, corpus.Count);
        Assert.Equal(new TokenRange(0, 950), corpus.Train);
        Assert.Equal(new TokenRange(950, 25), corpus.Validation);
        Assert.Equal(new TokenRange(975, 25), corpus.Test);
        Assert.Equal(text[950..975].Select(c => (int)c), corpus.Read(corpus.Validation.Start, (int)corpus.Validation.Length));
        Assert.Equal(text[975..].Select(c => (int)c), corpus.Read(corpus.Test.Start, (int)corpus.Test.Length));
        Assert.Equal(1000, corpus.TextBytes);
        Assert.Equal(50, corpus.HeldOutBytes);
        Assert.Equal(1.0, corpus.HeldOutBytesPerToken);
        Assert.Equal(1.0, Evaluation.BitsPerByte(Math.Log(2), 1 / corpus.HeldOutBytesPerToken), 12);   // bytes: bpb = loss / ln 2
        Assert.Equal(1, TokenCorpus.HeldOutCount(1));
        Assert.Equal(2, TokenCorpus.HeldOutCount(21));

        // An odd tail: validation takes the extra token.
        using var odd = TokenCorpus.Open(WriteText(text[..981]), ByteTokenizer.Instance, Cache);
        Assert.Equal((new TokenRange(931, 25), new TokenRange(956, 25)), (odd.Validation, odd.Test));
        using var tiny = TokenCorpus.Open(WriteText(text[..21]), ByteTokenizer.Instance, Cache);
        Assert.Equal((new TokenRange(19, 1), new TokenRange(20, 1)), (tiny.Validation, tiny.Test));
    }

    [Fact]
    public void Gpt2BitsPerByteUsesTheHeldOutTextsBytes()
    {
        var text = string.Concat(Enumerable.Repeat("And God said, Let there be light: and there was light.\n", 40));
        using var corpus = TokenCorpus.Open(WriteText(text), Gpt2Tokenizer.Instance, Cache);
        var heldOut = corpus.Read(corpus.Validation.Start, (int)(corpus.Validation.Length + corpus.Test.Length));
        Assert.Equal(Encoding.UTF8.GetByteCount(Gpt2Tokenizer.Instance.Decode(heldOut)), corpus.HeldOutBytes);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), corpus.TextBytes);
        var loss = 2.5;
        Assert.Equal(loss * heldOut.Length / (corpus.HeldOutBytes * Math.Log(2)), Evaluation.BitsPerByte(loss, 1 / corpus.HeldOutBytesPerToken), 12);
    }

    [Fact]
    public void ChunkedEncodingEqualsWholeTextEncoding()
    {
        // Runs of blank lines, trailing spaces, indentation, tabs, CRLF, contractions and digits around line ends.
        var text = string.Concat(Enumerable.Range(0, 30).Select(i =>
            $"Verse {i}:1 they'll go   \nsaid: \"don't\"\n\n\n  indented\tline\r\nword{i}  \n\nand   then\n12 34\n"));
        var chunks = TextChunks.Read(new StringReader(text), target: 16).ToList();
        Assert.True(chunks.Count >= 25, $"{chunks.Count} chunks");   // about one per verse: CRLF and space-led lines are no cut points
        Assert.Equal(text, string.Concat(chunks));
        var gpt2 = Gpt2Tokenizer.Instance;
        Assert.Equal(gpt2.Encode(text), chunks.SelectMany(gpt2.Encode));

        using var corpus = TokenCorpus.Open(WriteText(text), gpt2, Cache, chunkChars: 16);
        Assert.Equal(gpt2.Encode(text), corpus.Read(0, (int)corpus.Count));

        // A text with no line breaks is cut between words; with no breaks at all only past 8 × the target.
        var words = string.Join(' ', Enumerable.Repeat("lorem ipsum", 50));
        var wordChunks = TextChunks.Read(new StringReader(words), target: 16).ToList();
        Assert.True(wordChunks.Count > 10);
        Assert.Equal(gpt2.Encode(words), wordChunks.SelectMany(gpt2.Encode));
        Assert.All(TextChunks.Read(new StringReader(new string('x', 1000)), target: 16), c => Assert.True(c.Length <= 128));
    }

    [Fact]
    public void BatchTargetsAreInputsShiftedByOne()
    {
        var text = Text1000();
        using var corpus = TokenCorpus.Open(WriteText(text), ByteTokenizer.Instance, Cache);
        var starts = corpus.SampleStarts(DataSplit.Train, 4, 8, seed: 3, step: 11);
        using var batch = corpus.Sample(DataSplit.Train, 4, 8, seed: 3, step: 11);
        Assert.Equal([4L, 8L], batch.Inputs.shape);
        Assert.Equal([4L, 8L], batch.Targets.shape);
        Assert.Equal(ScalarType.Int64, batch.Inputs.dtype);
        var inputs = batch.Inputs.data<long>().ToArray();
        var targets = batch.Targets.data<long>().ToArray();
        for (var b = 0; b < 4; b++)
            for (var t = 0; t < 8; t++)
            {
                Assert.Equal(text[(int)starts[b] + t], inputs[b * 8 + t]);
                Assert.Equal(text[(int)starts[b] + t + 1], targets[b * 8 + t]);
                if (t < 7) Assert.Equal(inputs[b * 8 + t + 1], targets[b * 8 + t]);
            }
    }

    [Fact]
    public void BatchesArePureFunctionsOfSeedAndStep()
    {
        using var corpus = TokenCorpus.Open(WriteText(Text1000()), ByteTokenizer.Instance, Cache);
        using var a = corpus.Sample(DataSplit.Train, 4, 16, seed: 7, step: 100);
        using var again = corpus.Sample(DataSplit.Train, 4, 16, seed: 7, step: 100);
        using var next = corpus.Sample(DataSplit.Train, 4, 16, seed: 7, step: 101);
        using var otherSeed = corpus.Sample(DataSplit.Train, 4, 16, seed: 8, step: 100);
        Assert.Equal(Ids(a.Inputs), Ids(again.Inputs));
        Assert.Equal(Ids(a.Targets), Ids(again.Targets));
        Assert.NotEqual(Ids(a.Inputs), Ids(next.Inputs));
        Assert.NotEqual(Ids(a.Inputs), Ids(otherSeed.Inputs));
        Assert.Equal(corpus.SampleStarts(DataSplit.Train, 4, 16, 7, 100), corpus.SampleStarts(DataSplit.Train, 4, 16, 7, 100));
        // The windows within a batch differ too.
        Assert.Equal(4, corpus.SampleStarts(DataSplit.Train, 4, 16, 7, 100).Distinct().Count());
    }

    [Fact]
    public void SampledWindowsStayInsideTheirSplit()
    {
        using var corpus = TokenCorpus.Open(WriteText(Text1000()), ByteTokenizer.Instance, Cache);
        const int context = 16;
        var seen = new HashSet<long>();
        for (var step = 0; step < 500; step++)
        {
            foreach (var s in corpus.SampleStarts(DataSplit.Train, 8, context, seed: 1, step))
            {
                Assert.InRange(s, corpus.Train.Start, corpus.Train.End - context - 1);
                seen.Add(s);
            }
            foreach (var s in corpus.SampleStarts(DataSplit.Validation, 8, 8, seed: 1, step))
                Assert.InRange(s, corpus.Validation.Start, corpus.Validation.End - 8 - 1);
            foreach (var s in corpus.SampleStarts(DataSplit.Test, 8, 8, seed: 1, step))
                Assert.InRange(s, corpus.Test.Start, corpus.Test.End - 8 - 1);
        }
        Assert.True(seen.Count > 900, $"only {seen.Count} distinct starts");   // covers the 934 possible starts
        Assert.Contains(corpus.Train.End - context - 1, seen);
        var e = Assert.Throws<InvalidOperationException>(() => corpus.Sample(DataSplit.Validation, 1, 25, 0, 0));
        Assert.Contains("25 tokens", e.Message);
    }

    [Fact]
    public void SequentialHeldOutWindowsAreNonOverlappingAndInOrder()
    {
        var text = Text1000();
        using var corpus = TokenCorpus.Open(WriteText(text), ByteTokenizer.Instance, Cache);
        Assert.Equal(3, corpus.WindowCount(DataSplit.Validation, 8));   // (25 − 1) / 8
        var batches = corpus.Sequential(DataSplit.Validation, 2, 8).ToList();
        var test = corpus.Sequential(DataSplit.Test, 4, 8).ToList();
        try
        {
            Assert.Equal([2L, 1L], batches.Select(b => b.Inputs.shape[0]));
            var inputs = batches.SelectMany(b => b.Inputs.data<long>().ToArray()).ToArray();
            var targets = batches.SelectMany(b => b.Targets.data<long>().ToArray()).ToArray();
            Assert.Equal(text[950..974].Select(c => (long)c), inputs);
            Assert.Equal(text[951..975].Select(c => (long)c), targets);   // the last target is the validation half's last token
            Assert.Equal(text[975..999].Select(c => (long)c), Assert.Single(test).Inputs.data<long>().ToArray());
        }
        finally
        {
            batches.ForEach(b => b.Dispose());
            test.ForEach(b => b.Dispose());
        }
        var limited = corpus.Sequential(DataSplit.Validation, 1, 8, maxBatches: 2).ToList();
        Assert.Equal(2, limited.Count);
        limited.ForEach(b => b.Dispose());
    }

    [Fact]
    public void KingJamesCorpusTokenizesToBytesWithAFivePercentTail()
    {
        var kjv = RepoFiles.Find("examples/data/kjv.txt.gz");
        using var corpus = TokenCorpus.Open(kjv, ByteTokenizer.Instance, Cache);
        Assert.True(corpus.WasBuilt);
        Assert.InRange(corpus.Count, 4_000_000, 5_000_000);
        Assert.Equal(corpus.TextBytes, corpus.Count);
        Assert.Equal(TokenFile.HeaderSize + 2 * corpus.Count, new FileInfo(corpus.CachePath).Length);
        Assert.Equal((corpus.Count + 19) / 20, corpus.Validation.Length + corpus.Test.Length);
        Assert.Equal(corpus.Count, corpus.Train.Length + corpus.Validation.Length + corpus.Test.Length);
        Assert.Equal(corpus.Validation.Length + corpus.Test.Length, corpus.HeldOutBytes);
        Assert.Equal("In the beginning"u8.ToArray().Select(b => (int)b), corpus.Read(0, 400).Select(i => i).SkipWhile(i => i != 'I').Take(16));
    }

    private static long[] Ids(Tensor t) => t.data<long>().ToArray();
}
