using System.Globalization;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.OnnxRuntime.Batching;
using TokenformerGen.Serving;
using TokenformerGen.Text.Inference;

// Loads an export once, then continues prompts: the one given with --prompt, or else each line of standard input, as a
// service would answer requests. Sampling options are generate's, with the same defaults and the same tokens for a seed.
// With --http it serves the OpenAI-compatible HTTP API instead (TokenformerGen.Serving) until Ctrl+C.
const string Usage = "usage: OnnxServe DIR [--prompt TEXT] [--length N] [--temperature X] [--top-k K] [--seed N] [--threads N]\n"
                   + "       OnnxServe DIR --http [--host H] [--port N] [--threads N]";
if (args.Length == 0 || args[0] is "--help" or "-h")
{
    Console.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

string? prompt = null;
int length = 200, topK = 40;
double temperature = 0.8;
long seed = 1;
int? threads = null;
bool http = false;
var server = new ServerOptions();
try
{
    for (var i = 1; i < args.Length; i++)
    {
        string Value() => ++i < args.Length ? args[i] : throw new FormatException($"{args[i - 1]} needs a value");
        switch (args[i])
        {
            case "--prompt": prompt = Value(); break;
            case "--length": length = int.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--temperature": temperature = double.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--top-k": topK = int.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--seed": seed = long.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--threads": threads = int.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--http": http = true; break;
            case "--host": server = server with { Host = Value() }; break;
            case "--port": server = server with { Port = int.Parse(Value(), CultureInfo.InvariantCulture) }; break;
            default: throw new FormatException($"unknown option {args[i]}");
        }
    }
    if (length < 1 || temperature < 0 || topK < 0 || threads < 1) throw new FormatException("--length and --threads must be at least 1, --temperature and --top-k not negative");

    if (http)
    {
        server.Validate();
        using var generator = new BatchedTextGenerator(OnnxTokenformer.Load(args[0], threads));
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        await using var running = await TokenformerServer.StartAsync(generator, server);
        Console.WriteLine($"listening on {running.Address} as model '{generator.ModelId}' (Ctrl+C stops)");
        await running.WaitForShutdownAsync(stop.Token);
        return 0;
    }

    using var model = OnnxTokenformer.Load(args[0], threads);
    Console.Error.WriteLine($"{model.Card.Family}/{model.Card.Stage} (opset {model.Card.Opset}) in ONNX Runtime; tokenizer {model.Tokenizer.Name}");
    var options = new SamplingOptions(temperature, topK, seed, UseCache: true, Vocabulary: model.Tokenizer.VocabularySize);
    foreach (var text in prompt is null ? Lines() : [prompt])
    {
        var ids = model.Tokenizer.Encode(text).Select(id => (long)id).ToList();
        if (ids.Count == 0) continue;
        var produced = model.Generate(ids, length, options);
        Console.WriteLine(text + model.Tokenizer.Decode(produced.Select(id => (int)id).ToArray()));
    }
    return 0;
}
catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or InvalidDataException or IOException or TokenformerGen.Text.Data.TokenizerException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

static IEnumerable<string> Lines()
{
    while (Console.ReadLine() is { } line) yield return line;
}
