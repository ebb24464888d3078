using System.Text.Json;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Serving.Tests.Infrastructure;

namespace TokenformerGen.Serving.Tests;

/// <summary>The OpenAI-compatible endpoints answer with the text the model generates one sequence at a time.</summary>
public sealed class EndpointTests
{
    [Fact]
    public async Task ACompletionIsTheTextGenerateGivesWithItsUsage()
    {
        await using var served = await ServedModel.StartAsync();
        foreach (var (temperature, topK, seed) in new[] { (0.0, 0, 1L), (0.9, 40, 7L), (1.3, 0, 11L) })
        {
            var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/completions",
                new { model = ChatModel.Id, prompt = "the king said", max_tokens = 24, temperature, top_k = topK, seed }));
            var (text, finish) = ChatModel.Continue("the king said", 24, temperature, topK, seed);
            var choice = body.GetProperty("choices")[0];
            Assert.Equal(text, choice.GetProperty("text").GetString());
            Assert.Equal(finish, choice.GetProperty("finish_reason").GetString());
            Assert.Equal("text_completion", body.GetProperty("object").GetString());
            Assert.Equal(ChatModel.Id, body.GetProperty("model").GetString());
            var usage = body.GetProperty("usage");
            Assert.Equal("the king said".Length, usage.GetProperty("prompt_tokens").GetInt32());   // bytes
            Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
        }
    }

    [Fact]
    public async Task IgnoringEndOfTextGeneratesEveryTokenAsked()
    {
        await using var served = await ServedModel.StartAsync();
        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/completions",
            new { model = ChatModel.Id, prompt = "a", max_tokens = 60, temperature = 1.5, seed = 3, ignore_eos = true }));
        Assert.Equal(60, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task AStopSequenceEndsTheTextBeforeIt()
    {
        await using var served = await ServedModel.StartAsync();
        var (full, _) = ChatModel.Continue("the king said", 30, 0.9, 0, 5);
        var stop = full.Substring(10, 2);   // a piece of the text the model will write
        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/completions",
            new { model = ChatModel.Id, prompt = "the king said", max_tokens = 30, temperature = 0.9, seed = 5, stop = new[] { stop } }));
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamingSendsTheSameTextInChunksThenTheFinishAndDone()
    {
        await using var served = await ServedModel.StartAsync();
        var (text, finish) = ChatModel.Continue("the king said", 40, 0.9, 0, 9);
        var events = await ServedModel.EventsAsync(await served.PostAsync("/v1/completions",
            new { model = ChatModel.Id, prompt = "the king said", max_tokens = 40, temperature = 0.9, seed = 9, stream = true }));
        Assert.True(events.Count > 2, $"{events.Count} events");
        var choices = events.Select(e => e.GetProperty("choices")[0]).ToList();
        Assert.Equal(text, string.Concat(choices.Select(c => c.GetProperty("text").GetString())));
        Assert.All(choices[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("finish_reason").ValueKind));
        Assert.Equal(finish, choices[^1].GetProperty("finish_reason").GetString());
        Assert.True(events[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.Single(events.Select(e => e.GetProperty("id").GetString()).Distinct());
    }

    [Fact]
    public async Task AChatCompletionContinuesTheDocumentedPromptUntilAnotherTurnBegins()
    {
        await using var served = await ServedModel.StartAsync();
        var messages = new[] { new { role = "system", content = "be brief" }, new { role = "user", content = "who art thou" } };
        var prompt = ChatPrompt.Format(messages.Select(m => (m.role, m.content)));
        Assert.Equal("system: be brief\nuser: who art thou\nassistant:", prompt);
        var (text, finish) = ChatModel.Continue(prompt, 16, 0.8, 0, 4, ChatPrompt.Stops);

        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/chat/completions",
            new { model = ChatModel.Id, messages, max_tokens = 16, temperature = 0.8, seed = 4 }));
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(text, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(finish, choice.GetProperty("finish_reason").GetString());

        var events = await ServedModel.EventsAsync(await served.PostAsync("/v1/chat/completions",
            new { model = ChatModel.Id, messages, max_completion_tokens = 16, temperature = 0.8, seed = 4, stream = true }));
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        var deltas = events.Select(e => e.GetProperty("choices")[0].GetProperty("delta")).ToList();
        Assert.Equal("assistant", deltas[0].GetProperty("role").GetString());
        Assert.Equal(text, string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : "")));
        Assert.Equal(finish, events[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ModelsAndHealthNameTheServedModelAndItsLimits()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 3, QueueCapacity: 5));
        Assert.Equal("127.0.0.1", served.Server.Address.Host);   // loopback unless told otherwise
        var models = await ServedModel.JsonAsync(await served.Client.GetAsync("/v1/models"));
        Assert.Equal(ChatModel.Id, Assert.Single(models.GetProperty("data").EnumerateArray()).GetProperty("id").GetString());
        var health = await ServedModel.JsonAsync(await served.Client.GetAsync("/health"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(3, health.GetProperty("max_batch").GetInt32());
        Assert.Equal(5, health.GetProperty("queue_capacity").GetInt32());
        Assert.Equal(64, health.GetProperty("context").GetInt32());
    }
}
