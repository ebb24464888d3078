using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Handoff;

namespace TokenformerGen.Cli.Commands;

internal sealed class ImportSettings : CommandSettings
{
    [CommandOption("--official <FILE>")]
    [Description("An official TokenFormer pytorch_model.bin")]
    public string? Official { get; set; }

    [CommandOption("--neox <DIR>")]
    [Description("A DeepSpeed checkpoint directory the official trainer saved (holding 'latest'); its fp16/bf16/fp32 weights are read as float32")]
    public string? NeoX { get; set; }

    [CommandOption("--family <F>", isRequired: true)]
    [Description("The family whose stage the weights are")]
    public string Family { get; set; } = "";

    [CommandOption("--stage <S>")]
    [Description("The stage (may be left out for a single-stage family)")]
    public string? Stage { get; set; }

    [CommandOption("--out <CHECKPOINT>", isRequired: true)]
    [Description("The checkpoint (.safetensors) to write")]
    public string Out { get; set; } = "";

    public override Spectre.Console.ValidationResult Validate()
        => (Official is null) == (NeoX is null) ? Spectre.Console.ValidationResult.Error("give one of --official FILE and --neox DIR") : Spectre.Console.ValidationResult.Success();
}

/// <summary>Reads an official pytorch_model.bin or a DeepSpeed checkpoint directory into a checkpoint of a named stage, checking every tensor.</summary>
internal sealed class ImportCommand(CliSession session) : Command<ImportSettings>
{
    public override int Execute(CommandContext context, ImportSettings settings, CancellationToken cancellationToken)
    {
        var family = session.Family(settings.Family);
        var stage = CliSession.Stage(family, settings.Stage);
        if (OfficialLayout.Refusal(stage.Info) is { } refusal) throw new CliException(refusal);
        var layers = (int)stage.Info.Architecture.Layers;
        using var model = stage.Create();
        var extra = new Dictionary<string, string>();
        string source;
        if (settings.Official is not null)
        {
            CliSession.RequireFile(settings.Official, "official checkpoint");
            OfficialCheckpoint.Import(settings.Official, model, layers);
            extra["imported_from"] = Path.GetFileName(settings.Official);
            source = settings.Official;
        }
        else
        {
            var read = DeepSpeedCheckpoint.Import(settings.NeoX!, model.state_dict(), layers);
            extra["imported_from"] = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(settings.NeoX!)))}/{read.Tag}";
            extra["imported_dtype"] = read.StoredDType;
            source = read.File;
            session.Console.MarkupLineInterpolated(
                $"[grey]{read.File}: {read.StoredDType} weights widened to float32 (saved with data-parallel world size {read.DataParallelWorldSize}); not needed for the weights and left unread: {string.Join(", ", read.Ignored.DefaultIfEmpty("nothing"))}[/]");
        }
        var metadata = new CheckpointMetadata(family.Name, stage.Info.Name, stage.Info.SpecHash, 0) { Extra = extra };
        if (Path.GetDirectoryName(Path.GetFullPath(settings.Out)) is { } directory) Directory.CreateDirectory(directory);
        Checkpoint.Save(settings.Out, model, metadata);
        session.Console.MarkupLineInterpolated($"imported {source} as {stage.Info.QualifiedName} ({stage.Info.Parameters:N0} parameters): {settings.Out}");
        return 0;
    }
}
