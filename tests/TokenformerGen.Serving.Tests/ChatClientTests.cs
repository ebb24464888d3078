using Microsoft.Extensions.AI;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.OnnxRuntime.Batching;
using TokenformerGen.Serving.Tests.Infrastructure;

namespace TokenformerGen.Serving.Tests;

/// <summary><see cref="OnnxChatClient"/> answers as the chat endpoint does, whole or streamed, through the same batcher.</summary>
public sealed class ChatClientTests
{
    private static readonly ChatMessage[] Conversation = [new(ChatRole.User, "who art thou")];

    [Fact]
    public async Task TheChatClientAnswersWithTheChatEndpointsText()
    {
        await using var served = await ServedModel.StartAsync();
        using IChatClient client = new OnnxChatClient(served.Generator);
        var options = new ChatOptions { Instructions = "be brief", MaxOutputTokens = 16, Temperature = 0.8f, Seed = 4 };
        var response = await client.GetResponseAsync(Conversation, options);

        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/chat/completions", new
        {
            model = ChatModel.Id,
            messages = new[] { new { role = "system", content = "be brief" }, new { role = "user", content = "who art thou" } },
            max_tokens = 16, temperature = 0.8f, seed = 4,
        }));
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(choice.GetProperty("message").GetProperty("content").GetString(), response.Text);
        Assert.Equal(choice.GetProperty("finish_reason").GetString(), response.FinishReason?.Value);
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), response.Usage?.OutputTokenCount);
        Assert.Equal("system: be brief\nuser: who art thou\nassistant:".Length, response.Usage?.InputTokenCount);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal(ChatModel.Id, client.GetService<ChatClientMetadata>()?.DefaultModelId);
    }

    [Fact]
    public async Task StreamedUpdatesAddUpToTheWholeResponse()
    {
        await using var served = await ServedModel.StartAsync();
        using IChatClient client = new OnnxChatClient(served.Generator);
        var options = new ChatOptions { MaxOutputTokens = 30, Temperature = 1.0f, TopK = 50, Seed = 8 };
        var whole = await client.GetResponseAsync(Conversation, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, options)) updates.Add(update);

        Assert.True(updates.Count > 2, $"{updates.Count} updates");
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(whole.FinishReason, updates[^1].FinishReason);
        Assert.Equal(whole.Usage?.OutputTokenCount, updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount);
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        var merged = updates.ToChatResponse();
        Assert.Equal(whole.Text, merged.Text);
    }

    [Fact]
    public async Task OptionsTheModelCannotServeAreRefusedWithTheFieldNamed()
    {
        await using var served = await ServedModel.StartAsync();
        using IChatClient client = new OnnxChatClient(served.Generator);
        var negative = await Assert.ThrowsAsync<TextRequestException>(() => client.GetResponseAsync(Conversation, new ChatOptions { Temperature = -1 }));
        Assert.Equal("temperature", negative.ParamName);
        var tooMany = await Assert.ThrowsAsync<TextRequestException>(() => client.GetResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 1000 }));
        Assert.Equal("max_tokens", tooMany.ParamName);
        var tool = await Assert.ThrowsAsync<TextRequestException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.Tool, "42")]));
        Assert.Equal("messages", tool.ParamName);
    }

    [Fact]
    public async Task AClientThatLoadsTheFolderItselfAnswersAlike()
    {
        using var client = new OnnxChatClient(ChatModel.Folder, new BatcherOptions(MaxBatch: 2, QueueCapacity: 2), threads: 1);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], new ChatOptions { MaxOutputTokens = 12, Temperature = 0 });
        var (text, finish) = ChatModel.Continue("user: hi\nassistant:", 12, 0, 0, 1, ChatPrompt.Stops);
        Assert.Equal(text, response.Text);
        Assert.Equal(finish, response.FinishReason?.Value);
        Assert.Equal(ChatModel.Id, response.ModelId);
    }
}
