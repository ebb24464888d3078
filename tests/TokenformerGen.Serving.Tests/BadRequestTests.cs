using System.Net;
using System.Text;
using TokenformerGen.Serving.Tests.Infrastructure;

namespace TokenformerGen.Serving.Tests;

/// <summary>Every kind of bad request gets one clear error with a 4xx status, and the same server then answers a good one.</summary>
public sealed class BadRequestTests
{
    private static readonly string Long = new('x', 64);   // 64 bytes: the whole context, with no room for a token

    public static TheoryData<string, string, HttpStatusCode, string?, string> Requests => new()
    {
        { "malformed JSON", """{"model": "Chat/Small", "prompt": "a",""", HttpStatusCode.BadRequest, null, "not valid JSON" },
        { "not an object", """["Chat/Small"]""", HttpStatusCode.BadRequest, null, "JSON array" },
        { "unknown model", """{"model": "gpt-4", "prompt": "a"}""", HttpStatusCode.NotFound, "model", "'gpt-4' is not served here" },
        { "no model", """{"prompt": "a"}""", HttpStatusCode.BadRequest, "model", "model is required" },
        { "no prompt", """{"model": "Chat/Small"}""", HttpStatusCode.BadRequest, "prompt", "prompt is required" },
        { "a prompt of the wrong type", """{"model": "Chat/Small", "prompt": 5}""", HttpStatusCode.BadRequest, "prompt", "must be a string" },
        { "an empty prompt", """{"model": "Chat/Small", "prompt": ""}""", HttpStatusCode.BadRequest, "prompt", "the prompt is empty" },
        { "a prompt longer than the context", $$"""{"model": "Chat/Small", "prompt": "{{Long}}"}""", HttpStatusCode.BadRequest, "prompt", "the prompt is 64 tokens; the model's context of 64" },
        { "max_tokens past the context", """{"model": "Chat/Small", "prompt": "abcd", "max_tokens": 61}""", HttpStatusCode.BadRequest, "max_tokens", "pass the model's context of 64; at most 60" },
        { "max_tokens past any integer", """{"model": "Chat/Small", "prompt": "abcd", "max_tokens": 1e12}""", HttpStatusCode.BadRequest, "max_tokens", "must be an integer" },
        { "max_tokens of 0", """{"model": "Chat/Small", "prompt": "abcd", "max_tokens": 0}""", HttpStatusCode.BadRequest, "max_tokens", "give at least 1" },
        { "a negative temperature", """{"model": "Chat/Small", "prompt": "a", "temperature": -0.5}""", HttpStatusCode.BadRequest, "temperature", "at least 0" },
        { "a negative top-k", """{"model": "Chat/Small", "prompt": "a", "top_k": -1}""", HttpStatusCode.BadRequest, "top_k", "must not be negative" },
        { "five stop sequences", """{"model": "Chat/Small", "prompt": "a", "stop": ["a", "b", "c", "d", "e"]}""", HttpStatusCode.BadRequest, "stop", "at most 4" },
        { "two choices", """{"model": "Chat/Small", "prompt": "a", "n": 2}""", HttpStatusCode.BadRequest, "n", "one choice" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task ABadCompletionRequestGetsOneClearErrorAndTheServerKeepsServing(string what, string body, HttpStatusCode status, string? param, string message)
    {
        await using var served = await ServedModel.StartAsync();
        await AssertErrorAsync(await served.PostBytesAsync("/v1/completions", Encoding.UTF8.GetBytes(body)), status, param, message, what);
        await AssertServesAsync(served);
    }

    [Fact]
    public async Task ABadChatRequestGetsOneClearErrorAndTheServerKeepsServing()
    {
        await using var served = await ServedModel.StartAsync();
        (string Body, string Param, string Message)[] cases =
        [
            ("""{"model": "Chat/Small"}""", "messages", "messages is required"),
            ("""{"model": "Chat/Small", "messages": []}""", "messages", "messages is empty"),
            ("""{"model": "Chat/Small", "messages": [{"content": "hi"}]}""", "messages[0].role", "messages[0].role is required"),
            ("""{"model": "Chat/Small", "messages": [{"role": "tool", "content": "hi"}]}""", "messages", "unknown role 'tool'"),
            ("""{"model": "Chat/Small", "messages": [{"role": "user", "content": 3}]}""", "messages[0].content", "must be a string or an array"),
            ($$"""{"model": "Chat/Small", "messages": [{"role": "user", "content": "{{Long}}"}]}""", "messages", "the model's context of 64"),
        ];
        foreach (var (body, param, message) in cases)
            await AssertErrorAsync(await served.PostBytesAsync("/v1/chat/completions", Encoding.UTF8.GetBytes(body)), HttpStatusCode.BadRequest, param, message, body);
        await AssertServesAsync(served);
    }

    [Fact]
    public async Task ABodyThatIsNotUtf8GetsOneClearError()
    {
        await using var served = await ServedModel.StartAsync();
        var body = Encoding.UTF8.GetBytes("""{"model": "Chat/Small", "prompt": "caf?"}""");
        body[Array.IndexOf(body, (byte)'?')] = 0xE9;   // Latin-1 é
        await AssertErrorAsync(await served.PostBytesAsync("/v1/completions", body), HttpStatusCode.BadRequest, null, "not valid UTF-8", "Latin-1 body");
        await AssertServesAsync(served);
    }

    [Fact]
    public async Task ABodyOverTheLimitGets413WhetherItsLengthIsDeclaredOrNot()
    {
        await using var served = await ServedModel.StartAsync(server: new ServerOptions { MaxBodyBytes = 1000 });
        var body = Encoding.UTF8.GetBytes($$"""{"model": "Chat/Small", "prompt": "{{new string('a', 2000)}}"}""");
        await AssertErrorAsync(await served.PostBytesAsync("/v1/completions", body), HttpStatusCode.RequestEntityTooLarge, null, "limit of 1000 bytes", "declared length");
        var chunked = new StreamContent(new MemoryStream(body));   // no Content-Length: sent chunked
        chunked.Headers.ContentType = new("application/json");
        await AssertErrorAsync(await served.Client.PostAsync("/v1/completions", chunked), HttpStatusCode.RequestEntityTooLarge, null, "limit of 1000 bytes", "chunked");
        await AssertServesAsync(served);
    }

    [Fact]
    public async Task MaxTokensOverTheServersLimitGetsOneClearErrorAndNoneAsksForTheLimit()
    {
        await using var served = await ServedModel.StartAsync(maxTokens: 10);
        await AssertErrorAsync(await served.PostBytesAsync("/v1/completions", """{"model": "Chat/Small", "prompt": "a", "max_tokens": 11}"""u8.ToArray()),
                               HttpStatusCode.BadRequest, "max_tokens", "more than this server's limit of 10", "over the server's limit");
        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/completions", new { model = ChatModel.Id, prompt = "a", temperature = 0, ignore_eos = true }));
        Assert.Equal(10, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task MoreRequestsThanTheBatchAndQueueHoldGet503AndTheAcceptedOnesFinish()
    {
        await using var served = await ServedModel.StartAsync(new(MaxBatch: 1, QueueCapacity: 1), gated: true);
        var request = new { model = ChatModel.Id, prompt = "the king", max_tokens = 8, temperature = 0 };
        var decoding = served.PostAsync("/v1/completions", request);
        await served.UntilAsync(s => s.Running == 1, "one decoding");
        var waiting = served.PostAsync("/v1/completions", request);
        await served.UntilAsync(s => s.Waiting == 1, "one waiting");

        var refused = await served.PostAsync("/v1/completions", request);
        await AssertErrorAsync(refused, HttpStatusCode.ServiceUnavailable, null, "the server is busy", "a third request");
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());

        served.Gate!.Open();
        var expected = ChatModel.Continue("the king", 8, 0, 0, 1).Text;
        foreach (var accepted in await Task.WhenAll(decoding, waiting))
            Assert.Equal(expected, (await ServedModel.JsonAsync(accepted)).GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(1, served.Statistics.Refused);
        await AssertServesAsync(served);
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? param, string message, string what)
    {
        var error = (await ServedModel.JsonAsync(response, status)).GetProperty("error");
        Assert.True(error.GetProperty("message").GetString()!.Contains(message, StringComparison.Ordinal), $"{what}: {error}");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
    }

    private static async Task AssertServesAsync(ServedModel served)
    {
        var body = await ServedModel.JsonAsync(await served.PostAsync("/v1/completions", new { model = ChatModel.Id, prompt = "and", max_tokens = 5, temperature = 0 }));
        Assert.Equal(ChatModel.Continue("and", 5, 0, 0, 1).Text, body.GetProperty("choices")[0].GetProperty("text").GetString());
    }
}
