using TokenformerGen.Serving.Tests.Infrastructure;

namespace TokenformerGen.Serving.Tests;

/// <summary>Concurrent requests share decoding steps, each still gets its own tokens, and a client that leaves frees its place.</summary>
public sealed class BatchingTests
{
    [Fact]
    public async Task ConcurrentRequestsAreDecodedInOneBatchAndEachGetsItsOwnText()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 8, QueueCapacity: 8), gated: true);
        // Prompts of 8 to 33 tokens: those that start together run in groups that fit the context of 64, and one request
        // that wants a single token leaves before the first step.
        (string Prompt, double Temperature, long Seed, int MaxTokens)[] requests =
            [("the king", 0.9, 1, 30), ("the lord", 0.9, 2, 30), ("and then", 0, 3, 30), ("in the beginning", 1.1, 4, 30),
             ("and the earth was without form, a", 0.7, 5, 30), ("one more", 0.9, 6, 1)];
        var replies = new List<Task<HttpResponseMessage>>();
        foreach (var r in requests)
        {
            replies.Add(served.PostAsync("/v1/completions", new { model = ChatModel.Id, r.Prompt, max_tokens = r.MaxTokens, temperature = r.Temperature, seed = r.Seed, ignore_eos = true }));
            await served.UntilAsync(s => s.Submitted == replies.Count, "submitted in order");   // the first prompt's run waits at the gate
        }
        served.Gate!.Open();

        for (var i = 0; i < requests.Length; i++)
        {
            var (prompt, temperature, seed, maxTokens) = requests[i];
            var body = await ServedModel.JsonAsync(await replies[i]);
            Assert.Equal(maxTokens, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal(ChatModel.Continue(prompt, maxTokens, temperature, 0, seed, ignoreEndOfText: true).Text, body.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        var statistics = served.Statistics;
        Assert.Equal(5, statistics.LargestStep);
        Assert.Equal(requests.Length, statistics.Finished);
        // The first request takes one step alone (the others arrived while its prompt ran); the rest are taken together.
        Assert.Equal(30, statistics.Steps);
    }

    [Fact]
    public async Task AnInt4ExportIsBatchedLikeAnyOther()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 4, QueueCapacity: 4), gated: true, folder: ChatModel.Int4Folder);
        (string Prompt, long Seed)[] requests = [("the king", 1), ("in the beginning", 2), ("and", 3)];
        var replies = requests.Select(r => served.PostAsync("/v1/completions",
            new { model = ChatModel.Id, r.Prompt, max_tokens = 20, temperature = 0.9, seed = r.Seed, ignore_eos = true })).ToList();
        await served.UntilAsync(s => s.Submitted == requests.Length, "all submitted");
        served.Gate!.Open();
        for (var i = 0; i < requests.Length; i++)
        {
            var expected = ChatModel.Continue(requests[i].Prompt, 20, 0.9, 0, requests[i].Seed, ignoreEndOfText: true, folder: ChatModel.Int4Folder).Text;
            Assert.Equal(expected, await TextAsync(await replies[i]));
        }
        Assert.Equal(3, served.Statistics.LargestStep);
    }

    [Fact]
    public async Task RequestsJoinARunningBatchAtTheirOwnPositionsAndLeaveItWhenDone()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 4, QueueCapacity: 4), gated: true);
        var first = served.PostAsync("/v1/completions", new { model = ChatModel.Id, prompt = "in the beginning", max_tokens = 30, temperature = 0.9, seed = 1, ignore_eos = true });
        served.Gate!.Release(6);   // its prompt and five steps alone
        await served.UntilAsync(s => s.Steps == 5, "five steps");
        (string Prompt, int MaxTokens, long Seed)[] joining = [("and", 8, 2), ("the lord said", 12, 3)];
        var later = joining.Select(j => served.PostAsync("/v1/completions",
            new { model = ChatModel.Id, prompt = j.Prompt, max_tokens = j.MaxTokens, temperature = 0.9, seed = j.Seed, ignore_eos = true })).ToList();
        await served.UntilAsync(s => s.Submitted == 3, "both submitted");
        served.Gate.Open();

        Assert.Equal(ChatModel.Continue("in the beginning", 30, 0.9, 0, 1, ignoreEndOfText: true).Text, await TextAsync(await first));
        for (var i = 0; i < joining.Length; i++)
            Assert.Equal(ChatModel.Continue(joining[i].Prompt, joining[i].MaxTokens, 0.9, 0, joining[i].Seed, ignoreEndOfText: true).Text, await TextAsync(await later[i]));
        Assert.Equal(3, served.Statistics.LargestStep);
        Assert.Equal(29, served.Statistics.Steps);   // the first request's steps; the others' all fell within them
    }

    private static async Task<string?> TextAsync(HttpResponseMessage response)
        => (await ServedModel.JsonAsync(response)).GetProperty("choices")[0].GetProperty("text").GetString();

    [Fact]
    public async Task AClientThatDisconnectsMidStreamLeavesTheBatch()
    {
        await using var served = await ServedModel.StartAsync(gated: true);
        using var leaving = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { model = ChatModel.Id, prompt = "the king", max_tokens = 50, temperature = 1.0, seed = 2, stream = true, ignore_eos = true }),
        };
        var response = await served.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leaving.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(leaving.Token));
        var first = reader.ReadLineAsync(leaving.Token).AsTask();
        for (var i = 0; i < 49 && !first.IsCompleted; i++)
        {
            served.Gate!.Release(1);   // the prompt, then steps, until the text has a whole character to send
            await Task.WhenAny(first, Task.Delay(100));
        }
        Assert.StartsWith("data: {", await first);

        leaving.Cancel();   // the client goes away, closing its connection
        response.Dispose();
        var stepsWhenLeft = served.Statistics.Steps;
        for (var i = 0; i < 3000 && served.Statistics.Cancelled == 0; i++)
        {
            if (i % 10 == 0) served.Gate!.Release(1);   // steps go on while the server has not noticed yet
            await Task.Delay(10);
        }
        await served.UntilAsync(s => s.Cancelled == 1 && s.Running == 0, "cancelled");
        Assert.True(stepsWhenLeft < 10 && served.Statistics.Steps < 49, $"{stepsWhenLeft} steps when the client left, {served.Statistics.Steps} in all: the sequence ran on");
        Assert.Equal(0, served.Statistics.Finished);
    }

    [Fact]
    public async Task AClientThatLeavesWhileQueuedIsNeverDecoded()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 1, QueueCapacity: 2), gated: true);
        var decoding = served.PostAsync("/v1/completions", new { model = ChatModel.Id, prompt = "the king", max_tokens = 5, temperature = 0, ignore_eos = true });
        await served.UntilAsync(s => s.Running == 1, "one decoding");
        using var leaving = new CancellationTokenSource();
        var queued = served.PostAsync("/v1/completions", new { model = ChatModel.Id, prompt = "the lord", max_tokens = 5 }, leaving.Token);
        await served.UntilAsync(s => s.Waiting == 1, "one waiting");

        leaving.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        await served.UntilAsync(s => s.Cancelled == 1 && s.Waiting == 0, "the waiting request cancelled");
        served.Gate!.Open();
        Assert.Equal(ChatModel.Continue("the king", 5, 0, 0, 1, ignoreEndOfText: true).Text, await TextAsync(await decoding));
        Assert.Equal(1, served.Statistics.Finished);
        Assert.Equal(0, served.Statistics.Running);
    }
}
