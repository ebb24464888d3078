using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.Serving;

/// <summary>
/// A running Kestrel server with <see cref="TokenformerEndpoints"/> over one <see cref="BatchedTextGenerator"/>,
/// listening where <see cref="ServerOptions"/> say (loopback by default).
/// </summary>
/// <example>
/// <code>
/// using var generator = new BatchedTextGenerator(OnnxTokenformer.Load("served/150m"), "TokenFormer150M/Released");
/// await using var server = await TokenformerServer.StartAsync(generator, new ServerOptions { Port = 8000 });
/// Console.WriteLine($"listening on {server.Address}");
/// await server.WaitForShutdownAsync(cancellationToken);
/// </code>
/// </example>
public sealed class TokenformerServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TokenformerServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The address it listens on, its port resolved when <see cref="ServerOptions.Port"/> was 0.</summary>
    public Uri Address { get; }

    /// <summary>Starts listening; the generator stays the caller's and must outlive the server.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public static async Task<TokenformerServer> StartAsync(BatchedTextGenerator generator, ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        options ??= new ServerOptions();
        var address = options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.Listen(address, options.Port);
        });
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                await new ApiError(StatusCodes.Status500InternalServerError, "server_error", $"internal error: {e.Message}").WriteAsync(context.Response).ConfigureAwait(false);
            }
        });
        app.MapTokenformer(generator, options.MaxBodyBytes);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TokenformerServer(app, new Uri(bound));
    }

    /// <summary>Completes when the server stops (<paramref name="cancellationToken"/> stops it).</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Stops listening and closes open connections.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
