using System.ComponentModel;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.OnnxRuntime.Batching;
using TokenformerGen.Serving;

namespace TokenformerGen.Cli.Commands;

internal sealed class ServeSettings : CommandSettings
{
    [CommandOption("--onnx <DIR>", isRequired: true)]
    [Description("A folder written by export --onnx")]
    public string Onnx { get; set; } = "";

    [CommandOption("--host <H>")]
    [Description("Address to listen on: an IP address or localhost (anything but loopback opens the model to the network)")]
    [DefaultValue("127.0.0.1")]
    public string Host { get; set; } = "127.0.0.1";

    [CommandOption("--port <N>")]
    [Description("TCP port (0: a free one, printed)")]
    [DefaultValue(8000)]
    public int Port { get; set; } = 8000;

    [CommandOption("--threads <N>")]
    [Description("ONNX Runtime intra-op threads. Default: one per core")]
    public int? Threads { get; set; }

    [CommandOption("--max-batch <N>")]
    [Description("Requests decoded together at most")]
    [DefaultValue(16)]
    public int MaxBatch { get; set; } = 16;

    [CommandOption("--queue <N>")]
    [Description("Requests that may wait for the batch; more get 503")]
    [DefaultValue(64)]
    public int Queue { get; set; } = 64;

    [CommandOption("--max-tokens <N>")]
    [Description("Most tokens one request may generate. Default: the context")]
    public int? MaxTokens { get; set; }

    [CommandOption("--max-body <BYTES>")]
    [Description("Largest request body; bigger ones get 413")]
    [DefaultValue(1L << 20)]
    public long MaxBody { get; set; } = 1 << 20;
}

/// <summary>
/// Serves an ONNX export over HTTP (OpenAI-compatible completions and chat completions, streaming, continuous batching)
/// until Ctrl+C or SIGTERM.
/// </summary>
internal sealed class ServeCommand(CliSession session) : AsyncCommand<ServeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ServeSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Threads is < 1) throw new CliException($"--threads {settings.Threads}: give at least 1");
        if (settings.MaxBatch < 1) throw new CliException($"--max-batch {settings.MaxBatch}: give at least 1");
        if (settings.Queue < 0) throw new CliException($"--queue {settings.Queue}: give 0 or more");
        if (settings.MaxTokens is < 1) throw new CliException($"--max-tokens {settings.MaxTokens}: give at least 1");
        var options = new ServerOptions { Host = settings.Host, Port = settings.Port, MaxBodyBytes = settings.MaxBody };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException($"--host/--port/--max-body: {e.Message}");
        }
        if (!Directory.Exists(settings.Onnx)) throw new CliException($"ONNX export folder '{settings.Onnx}' does not exist");

        var model = OnnxTokenformer.Load(settings.Onnx, settings.Threads);
        using var generator = new BatchedTextGenerator(model, options: new BatcherOptions(settings.MaxBatch, settings.Queue), maxTokens: settings.MaxTokens);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await using var server = await TokenformerServer.StartAsync(generator, options, stop.Token);
        session.Console.MarkupLineInterpolated($"[grey]{generator.ModelId} in ONNX Runtime; batch {settings.MaxBatch}, queue {settings.Queue}, context {generator.Context}[/]");
        if (!System.Net.IPAddress.IsLoopback(options.Validate()))
            session.Console.MarkupLine("[yellow]listening beyond loopback: anyone who can reach this address can use the model[/]");
        session.Console.WriteLine($"listening on {server.Address} (Ctrl+C stops)");
        await server.WaitForShutdownAsync(stop.Token);
        session.Console.WriteLine("stopped");
        return 0;

        void Stop(PosixSignalContext signal)
        {
            signal.Cancel = true;   // stop the server, not the process
            stop.Cancel();
        }
    }
}
