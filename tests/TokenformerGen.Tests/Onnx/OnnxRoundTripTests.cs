using Microsoft.ML.OnnxRuntime;
using TokenformerGen.Examples;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;
using TokenformerGen.Text.Inference;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Tests.Onnx;

/// <summary>
/// Exported graphs run in ONNX Runtime against the TorchSharp models they came from (and, for Sample, against the float64
/// reference): logits within 1e-5 of the largest logit, and decoding that gives exactly the tokens <c>generate</c> gives.
/// </summary>
public sealed class OnnxRoundTripTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tfg-onnx-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void TinyKjvLogitsMatchTorchSharp()
    {
        using var model = Random(new TinyKjvLarge(), seed: 11);
        using var exported = Export(model);
        long[] tokens = [.. "In the beginning God created"u8.ToArray().Select(b => (long)b)];
        AssertClose(TorchLogits(model, tokens, batch: 1), Run(exported, tokens, batch: 1), "TinyKjv Large");
    }

    [Fact]
    public void TheReleased150MShapeMatchesTorchSharp()
    {
        using var model = Random(new TokenFormer150MReleased(), seed: 3);
        using var exported = Export(model);
        Assert.Equal(OnnxExport.ExternalDataFile, exported.Card.ExternalData);   // 608 MB go beside the graph by default
        long[] tokens = [510, 3533, 273, 253, 1533, 2, 50276, 12, 187, 42, 1024, 50303];
        AssertClose(TorchLogits(model, tokens, batch: 1), Run(exported, tokens, batch: 1), "TokenFormer150M");
    }

    [Fact]
    public void SampleMatchesTheFloat64Reference()
    {
        using var model = Random(new SampleSmall(), seed: 5);
        using var exported = Export(model);
        long[] tokens = [3, 77, 12, 200, 9, 41, 180, 6];
        var reference = SampleReference.Logits(model, tensor(tokens).unsqueeze(0)).SelectMany(row => row).ToArray();
        AssertClose(reference, Run(exported, tokens, batch: 1), "Sample against float64");
    }

    [Fact]
    public void EveryPattentionNormMatchesTorchSharp()
    {
        long[] tokens = [3, 77, 12, 200, 9, 41, 180, 6, 255, 0];
        TokenformerModel[] models = [new SampleSmall(), new SampleSqrtNSmall(), new SampleSoftmaxSmall(), new SampleGeluL2NormSmall()];
        foreach (var model in models)
        {
            using (model)
            {
                Random(model, seed: 8);
                using var exported = Export(model, model.Stage.Family);
                AssertClose(TorchLogits(model, tokens, batch: 1), Run(exported, tokens, batch: 1), $"{model.Stage.QualifiedName} ({model.Stage.Architecture.Norm}, ε {model.Stage.Architecture.Epsilon})");
            }
        }
    }

    [Fact]
    public void TransformersAndDeeperStagesMatchTorchSharpAndTheTransformerTheFloat64Reference()
    {
        long[] tokens = [3, 77, 12, 200, 9, 41, 180, 6, 255, 0];
        foreach (var model in new TokenformerModel[] { new SampleTransformerDeep(), new SampleDepthLarge() })
        {
            using (model)
            {
                Random(model, seed: 12);
                using var exported = Export(model, model.Stage.Family);
                AssertClose(TorchLogits(model, tokens, batch: 1), Run(exported, tokens, batch: 1), model.Stage.QualifiedName);
                if (model is SampleTransformerDeep)
                    AssertClose(TransformerReference.Logits(model, tensor(tokens).unsqueeze(0)).SelectMany(row => row).ToArray(), Run(exported, tokens, batch: 1), "Transformer against float64");
            }
        }
    }

    [Fact]
    public void AGrownStageExportsLikeAnyOtherAndKeepsTheFunction()
    {
        using var small = Random(new SampleSmall(), seed: 21);
        using var medium = SampleMedium.GrowFrom(small);
        using var exportedSmall = Export(small, "small");
        using var exportedMedium = Export(medium, "medium");
        long[] tokens = [9, 8, 7, 6, 5, 4, 3];
        var grown = Run(exportedMedium, tokens, batch: 1);
        AssertClose(TorchLogits(medium, tokens, batch: 1), grown, "grown Medium");
        AssertClose(Run(exportedSmall, tokens, batch: 1), grown, "grown Medium against its parent (zero_keys keeps the function)");
    }

    [Fact]
    public void ABatchOfEqualLengthPromptsPrefillsAndDecodesThroughTheCache()
    {
        using var model = Random(new TinyKjvLarge(), seed: 13);
        using var exported = Export(model);
        const int batch = 3, promptLength = 6, steps = 4;
        var rows = new List<long>[batch];
        for (var b = 0; b < batch; b++) rows[b] = [.. Enumerable.Range(0, promptLength).Select(i => (long)((b * 37 + i * 11) % 256))];

        var vocabulary = (int)exported.Card.PaddedVocabulary;
        using var cache = exported.CreateCache(batch);
        var prompts = rows.SelectMany(r => r).ToArray();
        var prefill = exported.Run(prompts, cache);
        AssertClose(TorchLogits(model, prompts, batch), prefill, "batch prefill");
        var last = LastPositions(prefill, batch, vocabulary);
        for (var step = 0; step < steps; step++)
        {
            var next = new long[batch];
            for (var b = 0; b < batch; b++) rows[b].Add(next[b] = new TokenPicker(new SamplingOptions(Temperature: 0)).Pick(last.AsSpan(b * vocabulary, vocabulary)));
            last = exported.Run(next, cache, lastPositionOnly: true);
            // A cached step computes the last position of the whole sequences run afresh.
            AssertClose(LastPositions(TorchLogits(model, rows.SelectMany(r => r).ToArray(), batch), batch, vocabulary), last, $"batch decoding step {step + 1}");
        }
        Assert.Equal(promptLength + steps, cache.Length);
    }

    [Fact]
    public void ARaggedBatchGivesEachRowExactlyItsUnpaddedLogits()
    {
        using var model = Random(new TinyKjvLarge(), seed: 29);
        using var exported = Export(model);
        var vocabulary = (int)exported.Card.PaddedVocabulary;
        List<long>[] prompts = [[.. "In the"u8.ToArray().Select(b => (long)b)], [.. "And God said, Let"u8.ToArray().Select(b => (long)b)], [.. "Blessed are"u8.ToArray().Select(b => (long)b)]];
        var singles = prompts.Select(_ => exported.CreateCache()).ToList();
        using var batch = exported.CreateCache(prompts.Length);
        try
        {
            var together = exported.RunRows(prompts, batch);
            Assert.Equal(prompts.Select(p => p.Count), batch.RowLengths);
            for (var step = 0; step <= 4; step++)
            {
                var next = new long[prompts.Length];
                for (var b = 0; b < prompts.Length; b++)
                {
                    // Each row alone, without padding, through its own cache.
                    var alone = step == 0 ? exported.Run([.. prompts[b]], singles[b], lastPositionOnly: true) : exported.Run([prompts[b][^1]], singles[b], lastPositionOnly: true);
                    AssertClose(alone, together[(b * vocabulary)..((b + 1) * vocabulary)], $"row {b} (prompt {prompts[b].Count} tokens), step {step}");
                    prompts[b].Add(next[b] = new TokenPicker(new SamplingOptions(Temperature: 0)).Pick(alone));
                }
                if (step < 4) together = exported.Run(next, batch, lastPositionOnly: true);
            }
        }
        finally
        {
            singles.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void RowsJoinAndLeaveARunningBatchBetweenStepsAndKeepTheirLogits()
    {
        using var model = Random(new SampleSmall(), seed: 31);
        using var exported = Export(model);
        var vocabulary = (int)exported.Card.PaddedVocabulary;
        var greedy = new TokenPicker(new SamplingOptions(Temperature: 0));
        // Each request: its tokens so far and its own cache, the reference the batch must match.
        var requests = new List<(List<long> Tokens, OrtKvCache Alone)>();
        using var batch = exported.CreateCache(1);
        batch.Remove(0);
        try
        {
            float[] Join(long[] prompt)
            {
                var alone = exported.CreateCache();
                var expected = exported.Run(prompt, alone, lastPositionOnly: true);
                using var joining = exported.CreateCache();
                var logits = exported.Run(prompt, joining, lastPositionOnly: true);
                Assert.Equal(requests.Count, batch.Add(joining));
                Assert.Equal(0, joining.Batch);
                requests.Add(([.. prompt, greedy.Pick(logits)], alone));
                AssertClose(expected, logits, $"request {requests.Count - 1} prefilled alone");
                return logits;
            }
            void Step(string what)
            {
                var next = requests.Select(r => r.Tokens[^1]).ToArray();
                var logits = exported.Run(next, batch, lastPositionOnly: true);
                for (var b = 0; b < requests.Count; b++)
                {
                    var alone = exported.Run([requests[b].Tokens[^1]], requests[b].Alone, lastPositionOnly: true);
                    AssertClose(alone, logits[(b * vocabulary)..((b + 1) * vocabulary)], $"{what}, row {b}");
                    requests[b].Tokens.Add(greedy.Pick(alone));
                }
            }
            Join([3, 77, 12, 200, 9]);
            Step("one request");
            Join([41, 180]);
            Step("two requests");
            Step("two requests again");
            Join([6, 255, 0, 1, 2, 3, 4, 5, 6]);
            Step("three requests");
            requests[0].Alone.Dispose();
            requests.RemoveAt(0);
            batch.Remove(0);
            Assert.Equal(requests.Select(r => r.Tokens.Count - 1), batch.RowLengths);
            Step("the first request left");
            Step("the first request left, again");
        }
        finally
        {
            requests.ForEach(r => r.Alone.Dispose());
        }
    }

    [Fact]
    public void GreedyDecodingGivesExactlyTheTokensGenerateGives()
    {
        // At initialisation the residual stream carries the last token forward and greedy decoding repeats one token;
        // value tokens 20× larger make every step depend on the attended context, so a wrong position or cache shows.
        using var model = Random(new TinyKjvLarge(), seed: 17);
        using (no_grad())
        {
            foreach (var (name, parameter) in model.NamedParameters())
                if (name.EndsWith(TokenformerGen.Architecture.ParameterNames.ValueTokens, StringComparison.Ordinal)) parameter.mul_(20);
        }
        using var exported = Export(model);
        long[] prompt = [.. "And God said"u8.ToArray().Select(b => (long)b)];
        var greedy = new SamplingOptions(Temperature: 0);
        var torch = TextSampler.Generate(model, prompt, 32, greedy);
        Assert.True(torch.Distinct().Count() >= 8, $"greedy decoding barely depends on the context: {string.Join(",", torch)}");
        Assert.Equal(torch, exported.Generate(prompt, 32, greedy));
    }

    [Fact]
    public void SamplingAndRunningPastTheContextGiveTheTokensGenerateGives()
    {
        // Sample's context is 32: 70 new tokens make the cache restart from the newest half-context twice.
        using var model = Random(new SampleSmall(), seed: 19);
        using var exported = Export(model);
        long[] prompt = [65, 110, 100];
        foreach (var options in new[] { new SamplingOptions(Temperature: 0), new SamplingOptions(Temperature: 0.9, TopK: 20, Seed: 4), new SamplingOptions(Temperature: 0.9, Seed: 4, UseCache: false) })
            Assert.Equal(TextSampler.Generate(model, prompt, 70, options), exported.Generate(prompt, 70, options));
    }

    [Fact]
    public void WeightsInAnExternalFileGiveTheSameLogits()
    {
        using var model = Random(new TinyKjvLarge(), seed: 23);
        using var inline = Export(model, "inline");
        using var external = Export(model, "external", OnnxWeights.External);
        Assert.Equal(OnnxExport.ExternalDataFile, external.Card.ExternalData);
        var graphBytes = new FileInfo(Path.Combine(external.Folder, OnnxExport.ModelFile)).Length;
        var dataBytes = new FileInfo(Path.Combine(external.Folder, OnnxExport.ExternalDataFile)).Length;
        Assert.True(graphBytes < 200_000, $"the graph file holds {graphBytes} bytes: weights leaked into it");
        Assert.True(dataBytes >= model.Stage.Parameters * 4, $"{dataBytes} bytes of data for {model.Stage.Parameters} float32 parameters");
        long[] tokens = [1, 2, 3, 250, 100];
        Assert.Equal(Run(inline, tokens, batch: 1), Run(external, tokens, batch: 1));
    }

    [Fact]
    public void StepsWriteIntoTheCachesBuffersWhichGrowByDoublingUpToTheContext()
    {
        using var model = Random(new SampleSmall(), seed: 37);
        using var exported = Export(model);
        var context = (int)exported.Card.Context;
        var vocabulary = (int)exported.Card.PaddedVocabulary;
        var greedy = new TokenPicker(new SamplingOptions(Temperature: 0));
        using var cache = exported.CreateCache();
        List<long> tokens = [5, 17, 250, 3, 99];
        var logits = exported.Run([.. tokens], cache, lastPositionOnly: true);
        // Room for twice the prompt (at least 16 columns): the steps until then write into the same buffers.
        Assert.Equal(16, cache.Capacity);
        var capacities = new List<int>();
        while (tokens.Count < context)
        {
            tokens.Add(greedy.Pick(logits));
            logits = exported.Run([tokens[^1]], cache, lastPositionOnly: true);
            capacities.Add(cache.Capacity);
        }
        // Full at 16 columns, the buffers are copied once to twice the next step's 17 columns, capped at the context.
        Assert.Equal([.. Enumerable.Repeat(16, 16 - 5), .. Enumerable.Repeat(Math.Min(34, context), context - 16)], capacities);
        AssertClose(LastPositions(TorchLogits(model, [.. tokens], 1), 1, vocabulary), logits, $"after {context} cached tokens");

        // The context is full: one more token is refused, and the cache keeps what it held.
        var error = Assert.Throws<ArgumentException>(() => exported.Run([1L], cache, lastPositionOnly: true));
        Assert.Contains($"pass the context of {context}", error.Message);
        Assert.Equal((context, context), (cache.Length, cache.RowLengths[0]));
    }

    [Fact]
    public void ABatchedChunkAfterCachedTokensMatchesTorchSharp()
    {
        using var model = Random(new TinyKjvLarge(), seed: 41);
        using var exported = Export(model);
        const int batch = 2;
        long[] prompts = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        long[] chunk = [1, 2, 3, 4, 5, 6];
        using var cache = exported.CreateCache(batch);
        exported.Run(prompts, cache);
        // Three new tokens in each row after five cached ones: one run of the graph for both rows.
        var logits = exported.Run(chunk, cache);
        long[] whole = [.. prompts[..5], .. chunk[..3], .. prompts[5..], .. chunk[3..]];
        var expected = TorchLogits(model, whole, batch);
        var vocabulary = (int)exported.Card.PaddedVocabulary;
        var newPositions = Enumerable.Range(0, batch).SelectMany(b => expected.Skip(((b * 8) + 5) * vocabulary).Take(3 * vocabulary)).ToArray();
        AssertClose(newPositions, logits, "a chunk of 3 after 5 cached tokens, 2 rows");
    }

    [Fact]
    public void PastInputsAsLongAsTheCachedColumnsWorkWithoutASharedBuffer()
    {
        // A caller that lets ONNX Runtime allocate each present (GenAI without past_present_share_buffer) and feeds it back
        // as the next past: the attention then copies the past, and the logits are the same.
        using var model = Random(new SampleSmall(), seed: 43);
        using var exported = Export(model);
        var card = exported.Card;
        var layers = Enumerable.Range(0, card.Layers).ToList();
        string[] inputNames = [card.InputIds, card.AttentionMask, .. layers.SelectMany(i => new[] { OnnxModelCard.ForLayer(card.PastKey, i), OnnxModelCard.ForLayer(card.PastValue, i) })];
        string[] outputNames = [card.Logits, .. layers.SelectMany(i => new[] { OnnxModelCard.ForLayer(card.PresentKey, i), OnnxModelCard.ForLayer(card.PresentValue, i) })];
        using var session = new InferenceSession(Path.Combine(exported.Folder, card.Model));
        var past = Enumerable.Range(0, 2 * card.Layers).Select(_ => (Data: Array.Empty<float>(), Columns: 0L)).ToArray();
        List<long> tokens = [4, 8, 15, 16, 23];
        var fresh = tokens.Count;
        var vocabulary = (int)card.PaddedVocabulary;
        for (var step = 0; step < 4; step++)
        {
            var ids = tokens.Skip(tokens.Count - fresh).ToArray();
            var mask = Enumerable.Repeat(1L, tokens.Count).ToArray();
            var values = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]),
                OrtValue.CreateTensorValueFromMemory(mask, [1, mask.Length]),
            };
            values.AddRange(past.Select(p => OrtValue.CreateTensorValueFromMemory(p.Data, [1, card.Heads, p.Columns, card.HeadDim])));
            using var options = new RunOptions();
            using (var results = session.Run(options, inputNames, values, outputNames))
            {
                var logits = results[0].GetTensorDataAsSpan<float>();
                AssertClose(LastPositions(TorchLogits(model, [.. tokens], 1), 1, vocabulary), logits[^vocabulary..].ToArray(), $"step {step}");
                for (var i = 0; i < past.Length; i++)
                {
                    Assert.Equal([1, card.Heads, tokens.Count, card.HeadDim], results[i + 1].GetTensorTypeAndShape().Shape);
                    past[i] = (results[i + 1].GetTensorDataAsSpan<float>().ToArray(), tokens.Count);
                }
                tokens.Add(new TokenPicker(new SamplingOptions(Temperature: 0)).Pick(logits[^vocabulary..]));
            }
            values.ForEach(v => v.Dispose());
            fresh = 1;
        }
    }

    private static T Random<T>(T model, long seed) where T : TokenformerModel
    {
        model.InitializeFromScratch(seed);
        model.eval();
        return model;
    }

    private OnnxTokenformer Export(TokenformerModel model, string name = "model", OnnxWeights weights = OnnxWeights.Auto)
    {
        var folder = Path.Combine(_folder, name);
        OnnxExport.Write(model, folder, new OnnxExportOptions { Weights = weights });
        return OnnxTokenformer.Load(folder, threads: 1);
    }

    private static float[] Run(OnnxTokenformer exported, long[] tokens, int batch)
    {
        using var cache = exported.CreateCache(batch);
        return exported.Run(tokens, cache);
    }

    // The logits of each row's last position, [batch, T, vocab] → [batch, vocab].
    private static float[] LastPositions(float[] logits, int batch, int vocabulary)
    {
        var perRow = logits.Length / batch;
        return [.. Enumerable.Range(0, batch).SelectMany(b => logits.Skip(((b + 1) * perRow) - vocabulary).Take(vocabulary))];
    }

    private static float[] TorchLogits(TokenformerModel model, long[] tokens, int batch)
    {
        using var _ = no_grad();
        using var ids = tensor(tokens).reshape(batch, -1);
        using var logits = model.call(ids);
        return logits.contiguous().data<float>().ToArray();
    }

    // ‖actual − expected‖∞ ≤ 1e-5 · ‖expected‖∞: relative to the largest logit, since single logits near zero have no
    // meaningful relative error.
    private static void AssertClose(float[] expected, float[] actual, string what) => AssertClose([.. expected.Select(v => (double)v)], actual, what);

    private static void AssertClose(IReadOnlyList<double> expected, float[] actual, string what)
    {
        Assert.Equal(expected.Count, actual.Length);
        double largest = 0, worst = 0;
        for (var i = 0; i < expected.Count; i++)
        {
            largest = Math.Max(largest, Math.Abs(expected[i]));
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        }
        Assert.True(largest > 0, $"{what}: all logits are zero");
        Assert.True(worst <= Tolerance * largest, $"{what}: largest difference {worst:E3} against largest logit {largest:E3} (relative {worst / largest:E3} > {Tolerance:E0})");
    }
}
