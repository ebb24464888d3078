using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using static TorchSharp.torch;

namespace TokenformerGen.Cli.Commands;

internal sealed class LogitsSettings : ComputeSettings
{
    [CommandOption("--checkpoint <FILE>", isRequired: true)]
    [Description("A checkpoint written by this tool")]
    public string Checkpoint { get; set; } = "";

    [CommandOption("--tokens <IDS>", isRequired: true)]
    [Description("Comma-separated token ids, e.g. 1,2,3")]
    public string Tokens { get; set; } = "";

    [CommandOption("--out <FILE>", isRequired: true)]
    [Description("The safetensors file to write: tensor 'logits', float32 [[T, padded vocabulary]]")]
    public string Out { get; set; } = "";
}

/// <summary>Writes the raw logits of a token sequence, for numerical checks against other implementations.</summary>
internal sealed class LogitsCommand(CliSession session) : Command<LogitsSettings>
{
    public override int Execute(CommandContext context, LogitsSettings settings, CancellationToken cancellationToken)
    {
        var ids = OptionParsing.TokenIds(settings.Tokens);
        using var checkpoint = CliSession.Load(settings.Checkpoint, session.Compute(settings), inferenceOnly: true);
        var architecture = checkpoint.Stage.Info.Architecture;
        var outside = ids.FirstOrDefault(id => id < 0 || id >= architecture.PaddedVocabulary, -1);
        if (ids.Any(id => id < 0 || id >= architecture.PaddedVocabulary))
            throw new CliException($"--tokens: id {outside} is outside the vocabulary 0..{architecture.PaddedVocabulary - 1}");
        if (ids.Length > architecture.Context)
            throw new CliException($"--tokens: {ids.Length} ids exceed the family's context of {architecture.Context}");

        checkpoint.Model.eval();
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var logits = checkpoint.Model.call(tensor(ids, device: checkpoint.Model.Device).unsqueeze(0))[0].to_type(ScalarType.Float32).contiguous();
            var metadata = new Dictionary<string, string>
            {
                ["family"] = checkpoint.Metadata.Family,
                ["stage"] = checkpoint.Metadata.Stage,
                ["spec_hash"] = checkpoint.Metadata.SpecHash,
                ["step"] = checkpoint.Metadata.Step.ToString(CultureInfo.InvariantCulture),
                ["tokens"] = string.Join(",", ids),
                ["vocabulary"] = architecture.Vocabulary.ToString(CultureInfo.InvariantCulture),
            };
            if (Path.GetDirectoryName(Path.GetFullPath(settings.Out)) is { } directory) Directory.CreateDirectory(directory);
            SafeTensorsFile.Write(settings.Out, [new KeyValuePair<string, Tensor>("logits", logits)], metadata);
            session.Console.MarkupLineInterpolated($"wrote logits {Shapes.Format(logits.shape)} float32 of {checkpoint.Metadata.Family}/{checkpoint.Metadata.Stage} to {settings.Out}");
        }
        return 0;
    }
}
