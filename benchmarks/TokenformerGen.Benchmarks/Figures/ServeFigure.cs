using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.OnnxRuntime.Batching;
using TokenformerGen.Serving;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 10d (issue 26): the HTTP server under load. The released TokenFormer-150M shape (random weights) exported to
/// ONNX and served by TokenformerGen.Serving on 127.0.0.1; 1, 4 and 16 concurrent clients each send streaming
/// completions one after another; aggregate tokens/s, time to first token and inter-token latency (p50, p99) as the
/// clients see them, failed or short requests, and the batched KV cache's largest size against its bound.
/// </summary>
internal sealed class ServeFigure : IFigure
{
    private static readonly int[] Clients = [1, 4, 16];

    private const string Text = "And God said, Let there be light: and there was light. And God saw the light, that it was good: and God divided the light from the darkness.";

    public int Number => 10;

    public string Name => "serve";

    // One level of load: its clients, requests per client, tokens per request.
    private sealed record Level(int Clients, int RequestsEach, int MaxTokens);

    // What one request saw: seconds to its first text, the gaps between later chunks, tokens generated, and whether it failed.
    private sealed record Outcome(double? FirstToken, List<double> Gaps, int Tokens, string? Failure);

    private sealed record Result(Level Level, double Seconds, List<Outcome> Outcomes, int LargestRows, int LargestColumns, long PeakManaged, long PeakResident)
    {
        // Seconds the decoding thread spent running prompts, in steps (joining rows included), and taking rows out.
        public (double Prompts, double Steps, double Leaving) Decoding { get; init; }
    }

    // The server's decoder with a clock on each of its calls.
    private sealed class TimedDecoder(IBatchDecoder inner) : IBatchDecoder
    {
        private long _prompts, _steps, _leaving;

        public int Context => inner.Context;

        public int Logits => inner.Logits;

        public void Reset() => _prompts = _steps = _leaving = 0;

        public (double, double, double) Split() => (Stopwatch.GetElapsedTime(0, _prompts).TotalSeconds, Stopwatch.GetElapsedTime(0, _steps).TotalSeconds, Stopwatch.GetElapsedTime(0, _leaving).TotalSeconds);

        public IReadOnlyList<(IDecoderRow Row, float[] Logits)> Start(IReadOnlyList<IReadOnlyList<long>> prompts)
        {
            var start = Stopwatch.GetTimestamp();
            var started = inner.Start(prompts);
            _prompts += Stopwatch.GetTimestamp() - start;
            return [.. started.Select(s => ((IDecoderRow)new Row(this, s.Row), s.Logits))];
        }

        public float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens)
        {
            var start = Stopwatch.GetTimestamp();
            var logits = inner.Step([.. rows.Cast<Row>().Select(r => r.Inner)], tokens);
            _steps += Stopwatch.GetTimestamp() - start;
            return logits;
        }

        public void Dispose() => inner.Dispose();

        private sealed class Row(TimedDecoder decoder, IDecoderRow inner) : IDecoderRow
        {
            public IDecoderRow Inner { get; } = inner;

            public void Dispose()
            {
                var start = Stopwatch.GetTimestamp();
                Inner.Dispose();
                decoder._leaving += Stopwatch.GetTimestamp() - start;
            }
        }
    }

    public void Run(BenchContext context)
    {
        var size = context.Smoke ? new BenchModels.Size("TinyKjv/Large", () => new Examples.TinyKjvLarge()) : BenchModels.Released150M;
        var maxTokens = context.Smoke ? 8 : 48;
        var shortest = context.Smoke ? 2 : 12;   // words: the smoke model reads bytes within a context of 128
        Level[] levels = [.. Clients.Select(c => new Level(c, context.Smoke ? 1 : c == 16 ? 2 : c == 4 ? 3 : 6, maxTokens))];
        var export = Path.Combine(context.WorkDirectory, "serve.onnx");
        context.Log($"serve: exporting {size.Label} (random weights) to ONNX");
        using (var model = BenchModels.Initialized(size)) OnnxExport.Write(model, export);

        var batch = new BatcherOptions(MaxBatch: Clients.Max(), QueueCapacity: Clients.Max());
        var loaded = OnnxTokenformer.Load(export, threads: 1);
        var card = loaded.Card;
        var decoder = new OrtBatchDecoder(loaded);
        var timed = new TimedDecoder(decoder);
        using var generator = new BatchedTextGenerator(timed, loaded.Tokenizer, "bench", batch);
        var results = new List<Result>();
        try
        {
            var server = TokenformerServer.StartAsync(generator, new ServerOptions { Port = 0 }).GetAwaiter().GetResult();
            try
            {
                using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(10) };
                Load(client, new Level(1, 1, maxTokens), decoder, shortest);   // warm-up: JIT, ONNX Runtime's first runs
                // 1, 4, 16, 16, 4, 1 clients: on a machine others share, a drift in their load weighs on every level alike.
                foreach (var level in levels.Concat(levels.Reverse()))
                {
                    context.Log($"serve: {level.Clients} client(s) × {level.RequestsEach} streaming request(s) of {level.MaxTokens} tokens");
                    timed.Reset();
                    var pass = Load(client, level, decoder, shortest);
                    results.Add(pass with { Decoding = timed.Split() });
                }
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            // The engine alone, no HTTP: decoding steps of 1 and of 16 rows in a decoder of their own, alternated.
            context.Log("serve: the engine alone, 1 and 16 rows");
            var prompts = Enumerable.Range(0, Clients.Max()).Select(i => (IReadOnlyList<long>)[.. loaded.Tokenizer.Encode(Prompt(i, shortest)).Select(t => (long)t)]).ToList();
            var engine = new List<(int Rows, double Rate)>();
            foreach (var rows in new[] { 1, Clients.Max(), Clients.Max(), 1 }) engine.Add((rows, EngineRate(loaded, prompts.Take(rows).ToList(), context.Smoke ? 2 : 24)));
            Print(context, size.Label, card, batch, results, engine);
        }
        finally
        {
            loaded.Dispose();
        }
    }

    // Tokens/s of decoding steps for rows started from `prompts`, all in the batch: the rate the server's steps could reach.
    private static double EngineRate(OnnxTokenformer model, List<IReadOnlyList<long>> prompts, int steps)
    {
        using var decoder = new OrtBatchDecoder(model);
        var rows = decoder.Start(prompts).Select(s => s.Row).ToList();
        try
        {
            var tokens = Enumerable.Repeat(13L, rows.Count).ToList();
            decoder.Step(rows, tokens);   // the rows join the batch
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < steps; i++) decoder.Step(rows, tokens);
            return rows.Count * steps / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var row in rows) row.Dispose();
        }
    }

    // Runs one level: every client sends its requests one after another; a monitor samples the batched cache's size.
    private static Result Load(HttpClient client, Level level, OrtBatchDecoder decoder, int shortest)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ResetPeak();
        int rows = 0, columns = 0;
        long managed = 0;
        using var done = new CancellationTokenSource();
        var monitor = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                rows = Math.Max(rows, decoder.BatchedRows);
                columns = Math.Max(columns, decoder.BatchedCapacity);
                managed = Math.Max(managed, GC.GetTotalMemory(forceFullCollection: false));
                await Task.Delay(5).ConfigureAwait(false);
            }
        });
        var clock = Stopwatch.StartNew();
        var outcomes = Task.WhenAll(Enumerable.Range(0, level.Clients).Select(async c =>
        {
            var mine = new List<Outcome>();
            for (var r = 0; r < level.RequestsEach; r++) mine.Add(await Request(client, Prompt(c + r, shortest), level.MaxTokens, seed: (c * 100) + r).ConfigureAwait(false));
            return mine;
        })).GetAwaiter().GetResult().SelectMany(o => o).ToList();
        var seconds = clock.Elapsed.TotalSeconds;
        done.Cancel();
        monitor.GetAwaiter().GetResult();
        return new Result(level, seconds, outcomes, rows, columns, managed, ProcessMemory.Peak());
    }

    // Prompts of `shortest` to `shortest` + 16 words, so the rows of a batch sit at different positions.
    private static string Prompt(int index, int shortest) => string.Join(' ', Text.Split(' ').Take(shortest + (4 * (index % 5))));

    private static async Task<Outcome> Request(HttpClient client, string prompt, int maxTokens, int seed)
    {
        var gaps = new List<double>();
        double? first = null;
        var clock = Stopwatch.StartNew();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = JsonContent.Create(new { model = "bench", prompt, max_tokens = maxTokens, temperature = 0.8, top_k = 40, seed, stream = true, ignore_eos = true }),
            };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return new(null, gaps, 0, $"HTTP {(int)response.StatusCode}");
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync().ConfigureAwait(false));
            var last = 0.0;
            var tokens = 0;
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line["data: ".Length..];
                if (data == "[DONE]")
                    return new(first, gaps, tokens, tokens == maxTokens ? null : $"{tokens} of {maxTokens} tokens");
                using var chunk = JsonDocument.Parse(data);
                if (chunk.RootElement.TryGetProperty("error", out var error)) return new(first, gaps, tokens, error.GetProperty("message").GetString());
                if (chunk.RootElement.TryGetProperty("usage", out var usage)) tokens = usage.GetProperty("completion_tokens").GetInt32();
                if (chunk.RootElement.GetProperty("choices")[0].GetProperty("text").GetString() is not { Length: > 0 }) continue;
                var now = clock.Elapsed.TotalSeconds;
                if (first is null) first = now;
                else gaps.Add(now - last);
                last = now;
            }
            return new(first, gaps, tokens, "no data: [DONE]");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            return new(first, gaps, 0, e.Message);
        }
    }

    private static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static string Ms(double seconds) => double.IsNaN(seconds) ? "–" : (seconds * 1000).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    private void Print(BenchContext context, string label, OnnxModelCard card, BatcherOptions batch, List<Result> passes, List<(int Rows, double Rate)> engine)
    {
        // Each level's two passes as one: their requests together over their seconds added, the largest sizes of either.
        var results = passes.GroupBy(p => p.Level).Select(g => new Result(g.Key, g.Sum(p => p.Seconds), [.. g.SelectMany(p => p.Outcomes)],
            g.Max(p => p.LargestRows), g.Max(p => p.LargestColumns), g.Max(p => p.PeakManaged), g.Max(p => p.PeakResident))
        {
            Decoding = (g.Sum(p => p.Decoding.Prompts), g.Sum(p => p.Decoding.Steps), g.Sum(p => p.Decoding.Leaving)),
        }).ToList();
        var bytesPerColumn = 2L * card.Layers * card.Heads * card.HeadDim * sizeof(float);
        var bound = batch.MaxBatch * card.Context * bytesPerColumn;
        var table = new FigureTable($"Figure 10d — {label} served over HTTP on 127.0.0.1, streaming completions, continuous batching (1 ONNX Runtime thread)",
            "clients", "requests", "tokens", "seconds", "aggregate tokens/s", "× 1 client", "TTFT p50 ms", "TTFT p99 ms", "inter-token p50 ms", "inter-token p99 ms", "failed", "largest batch", "KV cache peak", "managed heap peak", "process peak RSS");
        var single = results[0];
        double Rate(Result r) => r.Outcomes.Sum(o => o.Tokens) / r.Seconds;
        foreach (var r in results)
        {
            table.Add(r.Level.Clients, r.Outcomes.Count, r.Outcomes.Sum(o => o.Tokens), r.Seconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture), Rate(r),
                      FigureTable.Ratio(Rate(r) / Rate(single)),
                      Ms(Percentile(r.Outcomes.Where(o => o.FirstToken is not null).Select(o => o.FirstToken!.Value), 0.5)),
                      Ms(Percentile(r.Outcomes.Where(o => o.FirstToken is not null).Select(o => o.FirstToken!.Value), 0.99)),
                      Ms(Percentile(r.Outcomes.SelectMany(o => o.Gaps), 0.5)), Ms(Percentile(r.Outcomes.SelectMany(o => o.Gaps), 0.99)),
                      r.Outcomes.Count(o => o.Failure is not null), $"{r.LargestRows} rows × {r.LargestColumns}",
                      FigureTable.Mb(r.LargestRows * (double)r.LargestColumns * bytesPerColumn), FigureTable.Mb(r.PeakManaged), FigureTable.Mb(r.PeakResident));
        }
        table.Notes.Add($"Levels run in the order 1, 4, 16, 16, 4, 1 clients and each row adds up its two passes. Each client sends its requests one after another (1 client: {results[0].Level.RequestsEach}, 4: {results[1].Level.RequestsEach} each, 16: {results[2].Level.RequestsEach} each, per pass), every one `stream: true`, {results[0].Level.MaxTokens} tokens (`ignore_eos`), temperature 0.8, top-k 40, its own seed; prompts of 12–28 words of Genesis 1 (NeoX tokens), so rows sit at different positions. One warm-up request first.");
        table.Notes.Add($"Server: BatchedTextGenerator (batch {batch.MaxBatch}, queue {batch.QueueCapacity}) over OrtBatchDecoder (the graph's attention mask: one run per step for every row), Kestrel on 127.0.0.1 in this process, HttpClient over loopback; ONNX Runtime with 1 intra-op thread; the clients and Kestrel run on the process's other threads, unpinned.");
        table.Notes.Add("Aggregate tokens/s = completion tokens of the level ÷ its wall time (first request sent to last [DONE], both passes); TTFT = request sent to first text chunk; inter-token = gaps between text chunks of one request (a chunk is one token unless its bytes end mid-character); nearest-rank percentiles over every request (TTFT) or every gap of the level.");
        table.Notes.Add($"Failed = not 200, an error event, no [DONE], or fewer tokens than asked. KV cache peak = largest rows × allocated columns (capacity) of the batched cache seen (sampled every 5 ms) × {bytesPerColumn / 1024.0:N0} KB per column (layers × keys and values × heads × head dim × 4 bytes); its bound is batch × context = {batch.MaxBatch} × {card.Context} columns = {FigureTable.Mb(bound)}. Managed heap peak = largest GC.GetTotalMemory seen (the cache's copies when rows join or leave are managed arrays until collected). Process peak RSS (VmHWM, reset before each pass, after a full collection) also holds the ONNX Runtime session with the weights and its arena, and the heap glibc keeps from building and exporting the TorchSharp model earlier in this process.");
        table.Notes.Add("Where the decoding thread's time went, share of each level's wall time (prompts, run together when they arrive together / steps, rows joining included / rows leaving / idle or waiting): "
            + string.Join("; ", results.Select(r => $"{r.Level.Clients} client(s) {FigureTable.Percent(r.Decoding.Prompts / r.Seconds)} / {FigureTable.Percent(r.Decoding.Steps / r.Seconds)} / {FigureTable.Percent(r.Decoding.Leaving / r.Seconds)} / {FigureTable.Percent(1 - ((r.Decoding.Prompts + r.Decoding.Steps + r.Decoding.Leaving) / r.Seconds))}")) + ".");
        double EngineAt(int rows) => engine.Where(e => e.Rows == rows).Average(e => e.Rate);
        table.Notes.Add($"The engine alone (no HTTP, no sampling: OrtBatchDecoder.Step in a loop, 24 steps, rows 1, 16, 16, 1 after the levels): {EngineAt(1):F1} tokens/s at 1 row, {EngineAt(Clients.Max()):F1} at {Clients.Max()} rows, {FigureTable.Ratio(EngineAt(Clients.Max()) / EngineAt(1))}: the same ratio without HTTP, prompts or sampling, at this machine's load.");
        var failures = results.SelectMany(r => r.Outcomes).Where(o => o.Failure is not null).Select(o => o.Failure).Distinct().ToList();
        if (failures.Count > 0) table.Notes.Add("Failures: " + string.Join("; ", failures) + ".");
        table.Notes.Add($"Load average at the end (1/5/15 min): {Machine.LoadAverage()}.");
        table.Print(context.Out);
        if (context.Smoke) return;
        var ratio = Rate(results[^1]) / Rate(single);
        context.Verdicts.Add(new Verdict(Number, $"HTTP serving, {label}: aggregate tokens/s at 16 clients ÷ 1 client",
                                         $"{FigureTable.Ratio(ratio)} ({Rate(results[^1]):F1} against {Rate(single):F1} tokens/s)", "≥ 4×", ratio >= 4));
        var failed = results.Sum(r => r.Outcomes.Count(o => o.Failure is not null));
        context.Verdicts.Add(new Verdict(Number, "HTTP serving: failed or short requests at 1, 4 and 16 clients", failed.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", failed == 0));
        var peak = results.Max(r => r.LargestRows * (long)r.LargestColumns * bytesPerColumn);
        context.Verdicts.Add(new Verdict(Number, "HTTP serving: batched KV cache within batch × context", $"{FigureTable.Mb(peak)} of {FigureTable.Mb(bound)}", "≤ bound", peak <= bound));
    }
}
