using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Inference;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.Cli.Commands;

internal sealed class GenerateSettings : ComputeSettings
{
    [CommandOption("--checkpoint <FILE>")]
    [Description("A checkpoint written by this tool, run by TorchSharp")]
    public string? Checkpoint { get; set; }

    [CommandOption("--onnx <DIR>")]
    [Description("A folder written by export --onnx, run by ONNX Runtime (on the CPU, in float32) instead of TorchSharp")]
    public string? Onnx { get; set; }

    [CommandOption("--threads <N>")]
    [Description("Intra-op threads. Default: one per core")]
    public int? Threads { get; set; }

    [CommandOption("--prompt <TEXT>")]
    [Description("The text to continue")]
    [DefaultValue("And God said")]
    public string Prompt { get; set; } = "And God said";

    [CommandOption("--length <N>")]
    [Description("Tokens to generate")]
    [DefaultValue(200)]
    public int Length { get; set; } = 200;

    [CommandOption("--temperature <X>")]
    [Description("Softmax temperature (0: always the most likely token)")]
    [DefaultValue(0.8)]
    public double Temperature { get; set; } = 0.8;

    [CommandOption("--top-k <K>")]
    [Description("Sample among the K most likely tokens (0: all)")]
    [DefaultValue(40)]
    public int TopK { get; set; } = 40;

    [CommandOption("--seed <N>")]
    [Description("Seed of the sampler")]
    [DefaultValue(1L)]
    public long Seed { get; set; } = 1;

    [CommandOption("--no-cache")]
    [Description("Run the whole prefix for every token instead of using the KV cache")]
    public bool NoCache { get; set; }

    [CommandOption("--tokenizer <FILE>")]
    [Description("A Hugging Face tokenizer.json to use instead of the family's tokenizer (with --checkpoint)")]
    public string? Tokenizer { get; set; }

    public override Spectre.Console.ValidationResult Validate()
    {
        if ((Checkpoint is null) == (Onnx is null)) return Spectre.Console.ValidationResult.Error("give one of --checkpoint FILE and --onnx DIR");
        if (Onnx is not null && (Device != ComputeTarget.Auto || Precision != "fp32" || Tokenizer is not null))
            return Spectre.Console.ValidationResult.Error("--device, --precision and --tokenizer go with --checkpoint: an ONNX export runs on the CPU in float32 with the tokenizer its card names");
        return Spectre.Console.ValidationResult.Success();
    }
}

/// <summary>
/// Samples a continuation of a prompt with a KV cache: from a checkpoint in TorchSharp, or from an ONNX export in ONNX
/// Runtime. Both engines share the sampling loop, so the same options and seed give the same tokens.
/// </summary>
internal sealed class GenerateCommand(CliSession session) : Command<GenerateSettings>
{
    public override int Execute(CommandContext context, GenerateSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Length < 1) throw new CliException("--length must be at least 1");
        if (settings.Temperature < 0) throw new CliException("--temperature must not be negative");
        if (settings.TopK < 0) throw new CliException("--top-k must not be negative");
        if (settings.Threads is < 1) throw new CliException($"--threads {settings.Threads}: give at least 1");
        if (settings.Onnx is not null)
        {
            if (!Directory.Exists(settings.Onnx)) throw new CliException($"ONNX export folder '{settings.Onnx}' does not exist");
            using var exported = OnnxTokenformer.Load(settings.Onnx, settings.Threads);
            session.Console.MarkupLineInterpolated($"[grey]{exported.Card.Family}/{exported.Card.Stage} in ONNX Runtime (opset {exported.Card.Opset}, CPU, {exported.Card.Weights} weights); tokenizer: {exported.Tokenizer.Name}[/]");
            return Sample(settings, exported.Tokenizer, (prompt, options) => exported.Generate(prompt, settings.Length, options));
        }
        session.UseThreads(settings.Threads);
        using var checkpoint = CliSession.Load(settings.Checkpoint!, session.Compute(settings), inferenceOnly: true);
        var tokenizer = session.Tokenizer(checkpoint.Stage.Info, settings.Tokenizer);
        return Sample(settings, tokenizer, (prompt, options) => TextSampler.Generate(checkpoint.Model, prompt, settings.Length, options));
    }

    // Encodes the prompt, samples with either engine and prints the prompt with its continuation.
    private int Sample(GenerateSettings settings, ITextTokenizer tokenizer, Func<List<long>, SamplingOptions, List<long>> generate)
    {
        var prompt = tokenizer.Encode(settings.Prompt).Select(id => (long)id).ToList();
        if (prompt.Count == 0) throw new CliException("--prompt: give some text to continue");
        var options = new SamplingOptions(settings.Temperature, settings.TopK, settings.Seed, !settings.NoCache, tokenizer.VocabularySize);
        var produced = generate(prompt, options);
        session.Console.WriteLine(settings.Prompt + tokenizer.Decode(produced.Select(id => (int)id).ToArray()));
        return 0;
    }
}
