using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.Serving.Tests.Infrastructure;

/// <summary>
/// <see cref="ChatModel"/> (its float32 export unless told otherwise) served by a real <see cref="TokenformerServer"/> on 127.0.0.1 (a free port) and an
/// <see cref="HttpClient"/> that talks to it over that socket. <see cref="Gate"/> is set when the decoder is gated.
/// </summary>
internal sealed class ServedModel : IAsyncDisposable
{
    private readonly OnnxTokenformer _model;

    private ServedModel(OnnxTokenformer model, BatchedTextGenerator generator, TokenformerServer server, GatedDecoder? gate)
    {
        _model = model;
        Generator = generator;
        Server = server;
        Gate = gate;
        Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public BatchedTextGenerator Generator { get; }

    public TokenformerServer Server { get; }

    public GatedDecoder? Gate { get; }

    public HttpClient Client { get; }

    public BatcherStatistics Statistics => Generator.Batcher.Statistics;

    public static async Task<ServedModel> StartAsync(BatcherOptions? batch = null, ServerOptions? server = null, bool gated = false, int? maxTokens = null, string? folder = null)
    {
        var model = OnnxTokenformer.Load(folder ?? ChatModel.Folder, threads: 1);
        IBatchDecoder decoder = new OrtBatchDecoder(model);
        var gate = gated ? new GatedDecoder(decoder) : null;
        var generator = new BatchedTextGenerator(gate ?? decoder, model.Tokenizer, ChatModel.Id, batch, maxTokens);
        try
        {
            return new ServedModel(model, generator, await TokenformerServer.StartAsync(generator, (server ?? new ServerOptions()) with { Port = 0 }), gate);
        }
        catch
        {
            generator.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>POSTs <paramref name="body"/> as JSON.</summary>
    public Task<HttpResponseMessage> PostAsync(string path, object body, CancellationToken cancellationToken = default)
        => Client.PostAsJsonAsync(path, body, cancellationToken);

    /// <summary>POSTs raw bytes as <c>application/json</c>.</summary>
    public Task<HttpResponseMessage> PostBytesAsync(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        return Client.PostAsync(path, content);
    }

    /// <summary>The JSON body of a response, after checking its status.</summary>
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response, System.Net.HttpStatusCode status = System.Net.HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The <c>data:</c> payloads of a server-sent-event response, up to and without <c>[DONE]</c> (which must come).</summary>
    public static async Task<List<JsonElement>> EventsAsync(HttpResponseMessage response)
    {
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
        var events = new List<JsonElement>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                Assert.Null(await reader.ReadLineAsync() is { Length: > 0 } extra ? extra : null);
                return events;
            }
            events.Add(JsonDocument.Parse(data).RootElement.Clone());
        }
        Assert.Fail("the stream ended without data: [DONE]");
        return events;
    }

    /// <summary>Waits (up to a minute) until <paramref name="condition"/> holds of the batcher's counts.</summary>
    public async Task UntilAsync(Func<BatcherStatistics, bool> condition, string what)
    {
        for (var i = 0; i < 6000 && !condition(Statistics); i++) await Task.Delay(10);
        Assert.True(condition(Statistics), $"never {what}: {Statistics}");
    }

    public async ValueTask DisposeAsync()
    {
        Gate?.Open();
        Client.Dispose();
        await Server.DisposeAsync();
        Generator.Dispose();
        _model.Dispose();
    }
}
