using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;

namespace TokenformerGen.Cli.Commands;

internal sealed class ExportSettings : CommandSettings
{
    [CommandOption("--checkpoint <FILE>", isRequired: true)]
    [Description("A checkpoint written by this tool")]
    public string Checkpoint { get; set; } = "";

    [CommandOption("--official <DIR>", isRequired: true)]
    [Description("Folder to receive pytorch_model.bin (official key layout) and a GPT-NeoX YAML config")]
    public string Official { get; set; } = "";
}

/// <summary>Writes a checkpoint as the official pytorch_model.bin plus a config for the official GPT-NeoX trainer.</summary>
internal sealed class ExportCommand(CliSession session) : Command<ExportSettings>
{
    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        using var checkpoint = CliSession.Load(settings.Checkpoint);
        var stage = checkpoint.Stage.Info;
        Directory.CreateDirectory(settings.Official);
        var weights = Path.Combine(settings.Official, OfficialCheckpoint.FileName);
        OfficialCheckpoint.Export(weights, checkpoint.Model, (int)stage.Architecture.Layers);
        var config = Path.Combine(settings.Official, $"{stage.Family}_{stage.Name}.yml");
        AtomicFile.Write(config, s =>
        {
            using var writer = new StreamWriter(s, leaveOpen: true);
            writer.Write(OfficialConfig.Write(stage));
        });
        session.Console.MarkupLineInterpolated($"exported {stage.QualifiedName} (step {checkpoint.Metadata.Step}): {weights}, {config}");
        foreach (var caveat in OfficialConfig.Caveats(stage))
            session.Console.MarkupLineInterpolated($"[yellow]note[/]: {caveat}");
        return 0;
    }
}
