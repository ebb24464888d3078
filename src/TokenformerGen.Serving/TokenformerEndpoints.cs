using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.Serving;

/// <summary>
/// The OpenAI-compatible endpoints over a <see cref="BatchedTextGenerator"/>: <c>POST /v1/completions</c>,
/// <c>POST /v1/chat/completions</c> (both with <c>"stream": true</c> for server-sent events), <c>GET /v1/models</c> and
/// <c>GET /health</c>. Every bad request gets one JSON error (<c>{"error": {"message", "type", "param", "code"}}</c>)
/// with a 4xx status; a full queue gets 503 with <c>Retry-After</c>.
/// </summary>
public static class TokenformerEndpoints
{
    /// <summary>Maps the endpoints on <paramref name="routes"/>, serving <paramref name="generator"/> with bodies up to <paramref name="maxBodyBytes"/>.</summary>
    public static IEndpointRouteBuilder MapTokenformer(this IEndpointRouteBuilder routes, BatchedTextGenerator generator, long maxBodyBytes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(generator);
        routes.MapGet("/health", () =>
        {
            var s = generator.Batcher.Statistics;
            return Results.Json(new
            {
                status = "ok",
                model = generator.ModelId,
                running = s.Running,
                waiting = s.Waiting,
                max_batch = generator.Batcher.Options.MaxBatch,
                queue_capacity = generator.Batcher.Options.QueueCapacity,
                context = generator.Context,
            }, Json.Options);
        });
        routes.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = generator.ModelId, @object = "model", created = 0, owned_by = "tokenformergen" } },
        }, Json.Options));
        routes.MapPost("/v1/completions", (HttpContext context) => Answer(context, generator, maxBodyBytes, chat: false));
        routes.MapPost("/v1/chat/completions", (HttpContext context) => Answer(context, generator, maxBodyBytes, chat: true));
        return routes;
    }

    private static async Task Answer(HttpContext context, BatchedTextGenerator generator, long maxBodyBytes, bool chat)
    {
        var aborted = context.RequestAborted;
        TextGeneration generation;
        bool stream;
        try
        {
            var body = await RequestReader.ReadAsync(context.Request, maxBodyBytes).ConfigureAwait(false);
            var model = body.RequiredString("model");
            if (model != generator.ModelId)
                throw new ApiError(StatusCodes.Status404NotFound, "invalid_request_error", $"model '{model}' is not served here; this server serves '{generator.ModelId}' (GET /v1/models)", "model", "model_not_found");
            stream = body.Bool("stream");
            generation = chat
                ? generator.StartChat(body.Messages("messages"), body.TextRequest("max_completion_tokens", "max_tokens"), aborted)
                : generator.Start(body.RequiredString("prompt"), body.TextRequest("max_tokens"), aborted);
        }
        catch (ApiError e)
        {
            await e.WriteAsync(context.Response).ConfigureAwait(false);
            return;
        }
        catch (TextRequestException e)
        {
            await ApiError.Invalid(e.Message, e.ParamName).WriteAsync(context.Response).ConfigureAwait(false);
            return;
        }
        catch (BatcherFullException e)
        {
            await new ApiError(StatusCodes.Status503ServiceUnavailable, "server_busy", e.Message, code: "queue_full").WriteAsync(context.Response).ConfigureAwait(false);
            return;
        }

        var reply = new Reply(chat, generator.ModelId, generation);
        try
        {
            if (stream) await Stream(context, reply, aborted).ConfigureAwait(false);
            else await Whole(context, reply, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client left; reading no further has taken its sequence out of the batch.
        }
    }

    private static async Task Whole(HttpContext context, Reply reply, CancellationToken aborted)
    {
        var text = new StringBuilder();
        await foreach (var piece in reply.Generation.ReadAsync(aborted).ConfigureAwait(false)) text.Append(piece);
        await context.Response.WriteAsJsonAsync(reply.Whole(text.ToString()), Json.Options, aborted).ConfigureAwait(false);
    }

    // Server-sent events: one `data: {chunk}` per text piece, a last chunk with the finish reason and usage, `data: [DONE]`.
    private static async Task Stream(HttpContext context, Reply reply, CancellationToken aborted)
    {
        var response = context.Response;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.StartAsync(aborted).ConfigureAwait(false);
        await response.Body.FlushAsync(aborted).ConfigureAwait(false);   // the headers now, before the first token
        async Task Send(string data)
        {
            await response.WriteAsync($"data: {data}\n\n", aborted).ConfigureAwait(false);
            await response.Body.FlushAsync(aborted).ConfigureAwait(false);
        }
        try
        {
            var first = true;
            await foreach (var piece in reply.Generation.ReadAsync(aborted).ConfigureAwait(false))
            {
                await Send(JsonSerializer.Serialize(reply.Chunk(piece, first), Json.Options)).ConfigureAwait(false);
                first = false;
            }
            await Send(JsonSerializer.Serialize(reply.Last(first), Json.Options)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            // The status is sent already: the error goes in the stream, as OpenAI's servers send one.
            await Send(JsonSerializer.Serialize(new ApiError(StatusCodes.Status500InternalServerError, "server_error", $"generation failed: {e.Message}").Body, Json.Options)).ConfigureAwait(false);
        }
        await Send("[DONE]").ConfigureAwait(false);
    }

    // The OpenAI objects of one reply: completion or chat completion, whole or in chunks.
    private sealed class Reply(bool chat, string model, TextGeneration generation)
    {
        private readonly string _id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        public TextGeneration Generation { get; } = generation;

        private object Usage => new
        {
            prompt_tokens = Generation.PromptTokens,
            completion_tokens = Generation.CompletionTokens,
            total_tokens = Generation.PromptTokens + Generation.CompletionTokens,
        };

        public object Whole(string text) => chat
            ? new { id = _id, @object = "chat.completion", created = _created, model, choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, finish_reason = Generation.FinishReason } }, usage = Usage }
            : new { id = _id, @object = "text_completion", created = _created, model, choices = new[] { new { index = 0, text, finish_reason = Generation.FinishReason, logprobs = (object?)null } }, usage = Usage };

        public object Chunk(string text, bool first) => chat
            ? new { id = _id, @object = "chat.completion.chunk", created = _created, model, choices = new[] { new { index = 0, delta = (object)(first ? new { role = "assistant", content = text } : new { content = text }), finish_reason = (string?)null } } }
            : new { id = _id, @object = "text_completion", created = _created, model, choices = new[] { new { index = 0, text, finish_reason = (string?)null, logprobs = (object?)null } } };

        // The closing chunk: the finish reason, and the usage (an empty delta, or the role when no text came).
        public object Last(bool noText) => chat
            ? new { id = _id, @object = "chat.completion.chunk", created = _created, model, choices = new[] { new { index = 0, delta = (object)(noText ? new { role = "assistant" } : new { }), finish_reason = Generation.FinishReason } }, usage = Usage }
            : new { id = _id, @object = "text_completion", created = _created, model, choices = new[] { new { index = 0, text = "", finish_reason = Generation.FinishReason, logprobs = (object?)null } }, usage = Usage };
    }
}
