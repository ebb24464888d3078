using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.Serving;

// The JSON body of a completion request, read within the body limit, checked to be UTF-8 and an object, and its fields
// read by type with one clear error per wrong field.
internal sealed class RequestReader
{
    private readonly JsonElement _root;

    private RequestReader(JsonElement root) => _root = root;

    public static async Task<RequestReader> ReadAsync(HttpRequest request, long limit)
    {
        if (request.ContentLength > limit) throw TooLarge(limit);
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted).ConfigureAwait(false);
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(limit);
        }
        if (body.Length > limit) throw TooLarge(limit);
        if (!Utf8.IsValid(body)) throw ApiError.Invalid("the body is not valid UTF-8 (JSON must be UTF-8)");
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw ApiError.Invalid($"the body is a JSON {Kind(document.RootElement)}; send a JSON object");
            return new RequestReader(document.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw ApiError.Invalid($"the body is not valid JSON: {e.Message}");
        }
    }

    private static ApiError TooLarge(long limit)
        => new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", $"the body is larger than this server's limit of {limit} bytes");

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private JsonElement? Field(string name) => _root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string RequiredString(string name)
        => String(name) ?? throw ApiError.Invalid($"{name} is required", name);

    public string? String(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw ApiError.Invalid($"{name} must be a string, not a {Kind(v.Value)}", name),
    };

    public int? Int(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out var i) => i,
        var v => throw ApiError.Invalid($"{name} must be an integer within ±{int.MaxValue}, not {v.Value.GetRawText()}", name),
    };

    public long? Long(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out var i) => i,
        var v => throw ApiError.Invalid($"{name} must be a 64-bit integer, not {v.Value.GetRawText()}", name),
    };

    public double? Double(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        var v => throw ApiError.Invalid($"{name} must be a number, not {v.Value.GetRawText()}", name),
    };

    public bool Bool(string name) => Field(name) switch
    {
        null => false,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw ApiError.Invalid($"{name} must be true or false, not {v.Value.GetRawText()}", name),
    };

    // OpenAI's stop: one string or an array of strings.
    public IReadOnlyList<string>? Stops(string name) => Field(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => [v.GetString()!],
        { ValueKind: JsonValueKind.Array } v when v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => [.. v.EnumerateArray().Select(e => e.GetString()!)],
        _ => throw ApiError.Invalid($"{name} must be a string or an array of strings", name),
    };

    // Chat messages: an array of { role, content }, content a string or an array of text parts.
    public List<(string Role, string Content)> Messages(string name)
    {
        if (Field(name) is not { ValueKind: JsonValueKind.Array } array) throw ApiError.Invalid($"{name} is required: an array of {{\"role\", \"content\"}} objects", name);
        var messages = new List<(string, string)>();
        foreach (var (message, i) in array.EnumerateArray().Select((m, i) => (m, i)))
        {
            var where = $"{name}[{i}]";
            if (message.ValueKind != JsonValueKind.Object) throw ApiError.Invalid($"{where} must be an object with role and content", where);
            var reader = new RequestReader(message);
            var role = reader.String("role") ?? throw ApiError.Invalid($"{where}.role is required", $"{where}.role");
            messages.Add((role, reader.Content(where)));
        }
        if (messages.Count == 0) throw ApiError.Invalid($"{name} is empty", name);
        return messages;
    }

    private string Content(string where) => Field("content") switch
    {
        null => "",
        { ValueKind: JsonValueKind.String } v => v.GetString()!,
        { ValueKind: JsonValueKind.Array } v when v.EnumerateArray().All(IsTextPart) => string.Concat(v.EnumerateArray().Select(p => p.GetProperty("text").GetString())),
        _ => throw ApiError.Invalid($"{where}.content must be a string or an array of {{\"type\": \"text\", \"text\"}} parts", $"{where}.content"),
    };

    private static bool IsTextPart(JsonElement part)
        => part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text")
           && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String;

    // The options both endpoints share; maxTokensNames are read in order, the first present wins.
    public TextRequest TextRequest(params string[] maxTokensNames)
    {
        if (Int("n") is { } n && n != 1) throw ApiError.Invalid($"n {n}: this server returns one choice per request", "n");
        return new TextRequest(
            MaxTokens: maxTokensNames.Select(Int).FirstOrDefault(m => m is not null),
            Temperature: Double("temperature") ?? 1.0,
            TopK: Int("top_k") ?? 0,
            Seed: Long("seed"),
            Stop: Stops("stop"),
            IgnoreEndOfText: Bool("ignore_eos"));
    }
}
