using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Inference;

namespace TokenformerGen.Cli.Commands;

internal sealed class GenerateSettings : ComputeSettings
{
    [CommandOption("--checkpoint <FILE>", isRequired: true)]
    [Description("A checkpoint written by this tool")]
    public string Checkpoint { get; set; } = "";

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
    [Description("A Hugging Face tokenizer.json to use instead of the family's tokenizer")]
    public string? Tokenizer { get; set; }
}

/// <summary>Samples a continuation of a prompt from a checkpoint, with a KV cache.</summary>
internal sealed class GenerateCommand(CliSession session) : Command<GenerateSettings>
{
    public override int Execute(CommandContext context, GenerateSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Length < 1) throw new CliException("--length must be at least 1");
        if (settings.Temperature < 0) throw new CliException("--temperature must not be negative");
        if (settings.TopK < 0) throw new CliException("--top-k must not be negative");
        using var checkpoint = CliSession.Load(settings.Checkpoint, session.Compute(settings), inferenceOnly: true);
        var tokenizer = session.Tokenizer(checkpoint.Stage.Info, settings.Tokenizer);
        var prompt = tokenizer.Encode(settings.Prompt).Select(id => (long)id).ToList();
        if (prompt.Count == 0) throw new CliException("--prompt: give some text to continue");
        var options = new SamplingOptions(settings.Temperature, settings.TopK, settings.Seed, !settings.NoCache, tokenizer.VocabularySize);
        var produced = TextSampler.Generate(checkpoint.Model, prompt, settings.Length, options);
        session.Console.WriteLine(settings.Prompt + tokenizer.Decode(produced.Select(id => (int)id).ToArray()));
        return 0;
    }
}
