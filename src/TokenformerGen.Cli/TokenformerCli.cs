using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Commands;
using TokenformerGen.Cli.Infrastructure;

namespace TokenformerGen.Cli;

/// <summary>
/// The command line of an application that compiles Tokenformer families: <c>return TokenformerCli.Run(args);</c>
/// in its <c>Main</c> gives it <c>run</c>, <c>train</c>, <c>grow</c>, <c>eval</c>, <c>inspect</c>, <c>generate</c>,
/// <c>logits</c>, <c>serve</c>, <c>import</c>, <c>export</c> and <c>data export</c> over every family the generator compiled into it.
/// </summary>
/// <remarks>
/// Exit codes: 0 on success, 1 for bad input (unknown family or stage, a missing file, a checkpoint that does not fit),
/// 2 for a command line that does not parse, 70 for an internal error. Every failure prints exactly one line on
/// stderr (set <c>TFG_DEBUG=1</c> to get the stack trace as well).
/// </remarks>
public static class TokenformerCli
{
    /// <summary>Runs the command line with no application defaults (<c>run</c> then needs <c>--family</c> and <c>--data</c>).</summary>
    public static int Run(string[] args) => Run(args, new CliDefaults());

    /// <summary>Runs the command line with the application's defaults, writing to the process's console.</summary>
    public static int Run(string[] args, CliDefaults defaults)
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected && console.Profile.Width < 120) console.Profile.Width = 120;   // logs: no 80-column wrapping of the tables
        return Run(args, defaults, console, Console.Error);
    }

    /// <summary>Runs the command line writing output to <paramref name="console"/> and the error line to <paramref name="error"/>.</summary>
    public static int Run(string[] args, CliDefaults defaults, IAnsiConsole console, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(defaults);
        var session = new CliSession(defaults, console, error);
        var app = new CommandApp();
        app.SetDefaultCommand<RunCommand>();
        app.Configure(config =>
        {
            config.SetApplicationName(defaults.ApplicationName);
            config.ConfigureConsole(console);
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.Settings.Registrar.RegisterInstance(session);
            config.AddCommand<RunCommand>("run")
                  .WithDescription("Train the family's whole schedule progressively and from scratch; report what growing saved (default command)")
                  .WithExample("run").WithExample("run", "--family", "TinyKjv", "--data", "book.txt", "--out", "runs/book");
            config.AddCommand<StudyCommand>("study")
                  .WithDescription("Run the schedule over several seed pairs and budget scales, each setting a resumable run folder in one study folder; report the ratios' mean, min and max")
                  .WithExample("study", "--seeds", "3", "--scales", "1,2,4", "--scratch", "all", "--jobs", "2", "--out", "runs/study").WithExample("study", "--smoke");
            config.AddCommand<TrainCommand>("train")
                  .WithDescription("Train one stage (from scratch, from a checkpoint, grown from its parent, or resumed from --out)")
                  .WithExample("train", "--family", "TinyKjv", "--stage", "Small", "--steps", "200", "--out", "runs/small", "--metrics", "small.jsonl");
            config.AddCommand<GrowCommand>("grow")
                  .WithDescription("Grow a checkpoint into the next stage through the generated growth map (streamed)")
                  .WithExample("grow", "--from", "small.safetensors", "--stage", "Medium", "--policy", "zero_keys", "--out", "medium.safetensors");
            config.AddCommand<EvalCommand>("eval")
                  .WithDescription("Validation loss and bits per byte of a checkpoint, or a zero-shot task scored as lm-evaluation-harness 0.4.1 does (--task)")
                  .WithExample("eval", "--checkpoint", "medium.safetensors")
                  .WithExample("eval", "--task", "lambada_openai", "--data", "lambada_openai_test.jsonl.gz", "--checkpoint", "medium.safetensors");
            config.AddCommand<InspectCommand>("inspect")
                  .WithDescription("List families and stages, or show one family's stages, sizes and growth maps")
                  .WithExample("inspect").WithExample("inspect", "--family", "TinyKjv");
            config.AddCommand<GenerateCommand>("generate")
                  .WithDescription("Sample text from a checkpoint (temperature, top-k, seed, KV cache)")
                  .WithExample("generate", "--checkpoint", "medium.safetensors", "--prompt", "And God said", "--length", "200");
            config.AddCommand<ServeCommand>("serve")
                  .WithDescription("Serve an ONNX export over HTTP: OpenAI-compatible completions and chat completions, streamed, concurrent requests batched")
                  .WithExample("serve", "--onnx", "served/150m", "--port", "8000");
            config.AddCommand<LogitsCommand>("logits")
                  .WithDescription("Write raw logits [[T, vocab]] float32 of a token sequence to a safetensors file")
                  .WithExample("logits", "--checkpoint", "medium.safetensors", "--tokens", "1,2,3", "--out", "logits.safetensors");
            config.AddCommand<ImportCommand>("import")
                  .WithDescription("Read an official TokenFormer pytorch_model.bin, or a DeepSpeed checkpoint directory the official trainer saved, into a checkpoint of a stage")
                  .WithExample("import", "--official", "pytorch_model.bin", "--family", "TokenFormer150M", "--out", "150m.safetensors")
                  .WithExample("import", "--neox", "handoff/checkpoints", "--family", "TokenFormer150M", "--out", "150m-trained.safetensors");
            config.AddBranch("data", data =>
            {
                data.SetDescription("Datasets for the official GPT-NeoX trainer");
                data.AddCommand<DataExportCommand>("export")
                    .WithDescription("Tokenize a text (or JSON lines) into a GPT-NeoX mmap dataset PREFIX.bin/.idx, one item per document ending in end-of-text")
                    .WithExample("data", "export", "--data", "book.txt", "--family", "TokenFormer150M", "--out", "data/book_text_document");
            });
            config.AddCommand<ExportCommand>("export")
                  .WithDescription("Write a checkpoint for the official trainer: pytorch_model.bin plus a config (--official), or a DeepSpeed checkpoint directory, dataset, tokenizer and a config it starts from (--neox)")
                  .WithExample("export", "--checkpoint", "medium.safetensors", "--official", "export/")
                  .WithExample("export", "--checkpoint", "150m.safetensors", "--neox", "handoff", "--route", "continue", "--data", "data/book_text_document");
        });

        try
        {
            return app.Run(args);
        }
        catch (Exception exception)
        {
            var (code, line) = ErrorLine.For(exception);
            error.WriteLine($"error: {line}");
            if (Environment.GetEnvironmentVariable("TFG_DEBUG") is { Length: > 0 } and not "0") error.WriteLine(exception);
            return code;
        }
    }
}
