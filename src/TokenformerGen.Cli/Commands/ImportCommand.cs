using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;

namespace TokenformerGen.Cli.Commands;

internal sealed class ImportSettings : CommandSettings
{
    [CommandOption("--official <FILE>", isRequired: true)]
    [Description("An official TokenFormer pytorch_model.bin")]
    public string Official { get; set; } = "";

    [CommandOption("--family <F>", isRequired: true)]
    [Description("The family whose stage the weights are")]
    public string Family { get; set; } = "";

    [CommandOption("--stage <S>")]
    [Description("The stage (may be left out for a single-stage family)")]
    public string? Stage { get; set; }

    [CommandOption("--out <CHECKPOINT>", isRequired: true)]
    [Description("The checkpoint (.safetensors) to write")]
    public string Out { get; set; } = "";
}

/// <summary>Reads an official pytorch_model.bin into a checkpoint of a named stage, checking every tensor.</summary>
internal sealed class ImportCommand(CliSession session) : Command<ImportSettings>
{
    public override int Execute(CommandContext context, ImportSettings settings, CancellationToken cancellationToken)
    {
        var family = session.Family(settings.Family);
        var stage = CliSession.Stage(family, settings.Stage);
        CliSession.RequireFile(settings.Official, "official checkpoint");
        using var model = stage.Create();
        OfficialCheckpoint.Import(settings.Official, model, (int)stage.Info.Architecture.Layers);
        var metadata = new CheckpointMetadata(family.Name, stage.Info.Name, stage.Info.SpecHash, 0)
        {
            Extra = new Dictionary<string, string> { ["imported_from"] = Path.GetFileName(settings.Official) },
        };
        if (Path.GetDirectoryName(Path.GetFullPath(settings.Out)) is { } directory) Directory.CreateDirectory(directory);
        Checkpoint.Save(settings.Out, model, metadata);
        session.Console.MarkupLineInterpolated($"imported {settings.Official} as {stage.Info.QualifiedName} ({stage.Info.Parameters:N0} parameters): {settings.Out}");
        return 0;
    }
}
