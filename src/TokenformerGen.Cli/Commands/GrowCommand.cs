using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Commands;

internal sealed class GrowSettings : DataSettings
{
    [CommandOption("--from <CHECKPOINT>", isRequired: true)]
    [Description("A checkpoint of the parent stage")]
    public string From { get; set; } = "";

    [CommandOption("--stage <S>")]
    [Description("The stage to grow into. Default: the only stage that grows from the checkpoint's stage")]
    public string? Stage { get; set; }

    [CommandOption("--policy <P>")]
    [Description(OptionParsing.PolicyChoices + ": zero_keys keeps the function (new key rows zero, τ kept), random is the official recipe. Default: the spec's")]
    public string? Policy { get; set; }

    [CommandOption("--out <CHECKPOINT>", isRequired: true)]
    [Description("The grown checkpoint to write")]
    public string Out { get; set; } = "";

    [CommandOption("--seed <N>")]
    [Description("Seed of the random new rows")]
    [DefaultValue(1234L)]
    public long Seed { get; set; } = 1234;

    [CommandOption("--check")]
    [Description("Measure the validation loss of the parent and of the grown checkpoint (on --data) and refuse a growth that should keep the function but does not")]
    public bool Check { get; set; }

    [CommandOption("--eval-batches <N>")]
    [Description("Validation batches of the --check")]
    [DefaultValue(8)]
    public int EvalBatches { get; set; } = 8;
}

/// <summary>Grows a checkpoint into the next stage, one tensor at a time, through the edge's growth map.</summary>
internal sealed class GrowCommand(CliSession session) : Command<GrowSettings>
{
    public override int Execute(CommandContext context, GrowSettings settings, CancellationToken cancellationToken)
    {
        var policy = OptionParsing.Policy(settings.Policy);
        var target = settings.Check ? session.Compute(settings) : null;   // growing computes nothing; only the check runs models
        var (metadata, family, from) = CliSession.Describe(settings.From);
        var edge = Edge(settings, family, from.Info.Name);
        var options = new GrowthOptions { Policy = policy, Seed = settings.Seed };
        if (Path.GetDirectoryName(Path.GetFullPath(settings.Out)) is { } directory) Directory.CreateDirectory(directory);
        var written = StageGrowth.GrowCheckpoint(edge, settings.From, settings.Out, options);
        var used = options.PolicyFor(edge);
        session.Console.MarkupLineInterpolated(
            $"grew {edge.From.QualifiedName} (step {metadata.Step}, {edge.From.Parameters:N0} parameters) → {written.Family}/{written.Stage} ({edge.To.Parameters:N0} parameters) with {edge.To.DescribeGrowth(used)}: {settings.Out}");
        if (!edge.PreservesFunction[used])
            session.Console.MarkupLine("[yellow]note[/]: this growth does not preserve the function; the grown model's loss differs from the parent's");
        if (target is not null) Check(settings, edge, used, settings.Out, target);
        return 0;
    }

    // The growth's check on data: the validation loss of both checkpoints on the target, compared by the runtime's one
    // check at the tolerance of the target's precision.
    private void Check(GrowSettings settings, GrowthMap edge, GrowthPolicy policy, string grown, ComputeTarget target)
    {
        if (settings.EvalBatches < 1) throw new CliException("--eval-batches must be at least 1");
        session.UseThreads(settings.Threads);
        using var corpus = session.OpenCorpus(edge.To, settings.Data, settings.Tokenizer, settings.Cache);
        var data = new CorpusBatchSource(corpus, 1);
        var batch = (int)(edge.To.Budget?.Batch ?? 8);
        var context = (int)edge.To.Architecture.Context;
        double Loss(string path)
        {
            using var checkpoint = CliSession.Load(path, target, inferenceOnly: true);
            return Evaluation.Loss(checkpoint.Model, data, batch, context, settings.EvalBatches);
        }
        var report = StageGrowth.Check(edge, policy, Loss(settings.From), Loss(grown), StageGrowth.ToleranceFor(target.Precision));
        session.Console.MarkupLineInterpolated(
            $"check: {Numbers.LossChange(report)}{(report.PreservesFunction ? $", function kept within {report.Tolerance:G}" : "")}");
    }

    private static GrowthMap Edge(GrowSettings settings, FamilyRegistration family, string fromStage)
    {
        if (settings.Stage is null)
        {
            var children = family.Edges.Where(e => e.From.Name == fromStage).ToList();
            return children.Count == 1 ? children[0]
                : throw new CliException(children.Count == 0
                    ? $"{family.Name}/{fromStage} has no stage growing from it"
                    : $"several stages grow from {family.Name}/{fromStage} ({string.Join(", ", children.Select(c => c.To.Name))}): name one with --stage");
        }
        var target = CliSession.Stage(family, settings.Stage).Info;
        var edge = family.EdgeInto(target.Name)
            ?? throw new CliException($"{target.QualifiedName} is a root stage: it does not grow from another stage");
        return edge.From.Name == fromStage ? edge
            : throw new CliException($"{settings.From} is a checkpoint of {family.Name}/{fromStage}, but {target.QualifiedName} grows from {edge.From.Name}");
    }
}
