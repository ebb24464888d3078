using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace TokenformerGen.Serving;

// A request the server answers with an error instead of a completion: its HTTP status and OpenAI's error object.
internal sealed class ApiError(int status, string type, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public static ApiError Invalid(string message, string? param = null) => new(StatusCodes.Status400BadRequest, "invalid_request_error", message, param);

    public object Body => new { error = new { message = Message, type, param, code } };

    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = Status;
        if (Status == StatusCodes.Status503ServiceUnavailable) response.Headers.RetryAfter = "1";
        // The rest of a body over the limit is never read, so the connection cannot carry another request: say so.
        if (Status == StatusCodes.Status413PayloadTooLarge) response.Headers.Connection = "close";
        await response.WriteAsJsonAsync(Body, Json.Options).ConfigureAwait(false);
    }
}

internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };
}
