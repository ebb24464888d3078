using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Commands;

internal sealed class TrainSettings : TrainingSettings
{
    [CommandOption("--family <F>", isRequired: true)]
    [Description("The model family")]
    public string Family { get; set; } = "";

    [CommandOption("--stage <S>")]
    [Description("The stage to train (may be left out for a single-stage family)")]
    public string? Stage { get; set; }

    [CommandOption("--from <CHECKPOINT>")]
    [Description("Start from a checkpoint of this stage, or grow one of its parent stage through the edge's growth map")]
    public string? From { get; set; }

    [CommandOption("--steps <N>")]
    [Description("Optimizer steps. Default: the stage's token budget / tokens per step")]
    public long? Steps { get; set; }

    [CommandOption("--batch <B>")]
    [Description("Sequences per micro-batch. Default: the stage's budget (8 without one)")]
    public int? Batch { get; set; }

    [CommandOption("--context <T>")]
    [Description("Tokens per sequence, at most the family's context. Default: the family's context")]
    public int? Context { get; set; }

    [CommandOption("--accumulate <N>")]
    [Description("Micro-batches per optimizer step (gradient accumulation)")]
    [DefaultValue(1)]
    public int Accumulate { get; set; } = 1;

    [CommandOption("--lr <X>")]
    [Description("Peak learning rate. Default: the stage's budget (6e-4 without one)")]
    public double? LearningRate { get; set; }

    [CommandOption("--warmup <X>")]
    [Description("Share of steps in linear warmup. Default: the stage's budget (0.01 without one)")]
    public double? Warmup { get; set; }

    [CommandOption("--metrics <FILE>")]
    [Description("JSON lines, one per step (step, loss, tokens, flops, wall_s, tokens_per_s, lr, grad_norm) and per evaluation. Default: OUT/metrics.jsonl")]
    public string? Metrics { get; set; }

    [CommandOption("--out <DIR>")]
    [Description("Checkpoint folder; a run whose folder already holds a checkpoint of this stage resumes from it. Default: runs/FAMILY-STAGE")]
    public string? Out { get; set; }

    [CommandOption("--checkpoint-every <K>")]
    [Description("Save every K steps (0: only at the end). Default: a tenth of the steps")]
    public int? CheckpointEvery { get; set; }

    [CommandOption("--eval-every <K>")]
    [Description("Validate every K steps (0: only at the end). Default: a tenth of the steps")]
    public int? EvalEvery { get; set; }
}

/// <summary>Trains one stage: from scratch, from a checkpoint, grown from its parent, or resumed from its folder.</summary>
internal sealed class TrainCommand(CliSession session) : Command<TrainSettings>
{
    private enum Start { Scratch, Resume, Load, Grow }

    public override int Execute(CommandContext context, TrainSettings settings, CancellationToken cancellationToken)
    {
        session.UseThreads(settings.Threads);
        var target = session.Compute(settings);
        var family = session.Family(settings.Family);
        var registration = CliSession.Stage(family, settings.Stage);
        var stage = registration.Info;
        var policy = OptionParsing.Policy(settings.Policy);
        var optimizerGrowth = OptionParsing.OptimizerGrowth(settings.OptimizerGrowth) ?? TrainingSettings.ScheduleDefaults.OptimizerGrowth;
        var contextLength = settings.Context ?? (int)stage.Architecture.Context;
        if (contextLength < 1 || contextLength > stage.Architecture.Context)
            throw new CliException($"--context {contextLength}: give 1..{stage.Architecture.Context} (the family's context)");
        if (settings.Batch is < 1) throw new CliException("--batch must be at least 1");
        if (settings.Accumulate < 1) throw new CliException("--accumulate must be at least 1");
        if (settings.Steps is < 1) throw new CliException("--steps must be at least 1");
        if (stage.Budget is null && settings.Steps is null)
            throw new CliException($"{stage.QualifiedName} has no training budget in its spec: give --steps");

        var outDirectory = settings.Out ?? Path.Combine(session.Defaults.RunsDirectory, $"{family.Name}-{stage.Name}");
        var latest = Directory.Exists(outDirectory) ? TrainingCheckpoints.Latest(outDirectory) : null;
        var (start, edge) = Plan(settings, family, stage, outDirectory, latest);

        using var corpus = session.OpenCorpus(stage, settings.Data, settings.Tokenizer, settings.Cache);
        var data = new CorpusBatchSource(corpus, settings.DataSeed);
        var options = Options(settings, stage, contextLength);

        using var model = registration.Create().Place(target);
        AdamW? optimizer = null;
        TrainingProgress? progress = null;
        switch (start)
        {
            case Start.Resume:
                (optimizer, progress) = TrainingCheckpoints.Resume(latest!, model, options);
                session.Console.MarkupLineInterpolated($"resumed from step {progress.Step} of {latest}{(settings.From is null ? "" : " (--from is ignored when resuming)")}");
                break;
            case Start.Load:
                Checkpoint.Load(settings.From!, model, family.Name, stage.Name);
                session.Console.MarkupLineInterpolated($"initialised from {settings.From}");
                break;
            case Start.Grow:
                optimizer = Grow(settings, family, edge!, model, data, options, policy, optimizerGrowth, target);
                break;
            default:
                model.InitializeFromScratch(settings.Seed);
                session.Console.MarkupLineInterpolated($"initialised from scratch (seed {settings.Seed})");
                break;
        }

        session.Console.MarkupLineInterpolated(
            $"training {stage.QualifiedName}: {stage.Parameters:N0} parameters, {options.Steps:N0} steps of {options.TokensPerStep:N0} tokens (batch {options.Batch} × context {options.Context} × {options.GradientAccumulation}), lr {options.LearningRate:G3}, checkpoints in {outDirectory}");
        using var trainer = new Trainer(model, data, options, optimizer, progress);
        var metricsPath = settings.Metrics ?? Path.Combine(outDirectory, "metrics.jsonl");
        using var metrics = new MetricsLog(metricsPath, trainer.Progress.Step);

        var outcome = session.Console.Progress().AutoClear(false).Columns(CliSession.ProgressColumns()).Start(ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(stage.Name), maxValue: options.Steps);
            task.Value = trainer.Progress.Step;
            return TrainingLoop.Run(trainer, outDirectory, metrics, new Observer(session, stage, task), cancellationToken);
        });

        var bpb = outcome.BitsPerByte is double b ? $", {b:F4} bits/byte" : "";
        session.Console.MarkupLineInterpolated(
            $"[green]done[/]: step {outcome.Progress.Step:N0}, {outcome.Progress.Tokens:N0} tokens, {Numbers.Flops(outcome.Progress.Flops)} FLOPs, {outcome.Progress.WallSeconds:F1} s; validation loss {outcome.ValidationLoss:F4}{bpb}");
        session.Console.MarkupLineInterpolated($"checkpoint: {outcome.Checkpoint ?? "-"}; metrics: {metricsPath}");
        return 0;
    }

    // Decides where training starts, refusing an --out of another stage and a --from that is neither this stage nor its parent.
    private static (Start Start, GrowthMap? Edge) Plan(TrainSettings settings, FamilyRegistration family, StageInfo stage, string outDirectory, string? latest)
    {
        if (latest is not null)
        {
            var found = Checkpoint.ReadMetadata(latest);
            if (!string.Equals(found.Family, family.Name, StringComparison.Ordinal) || found.Stage != stage.Name)
                throw new CliException($"{outDirectory} holds a training run of {found.Family}/{found.Stage}, not {stage.QualifiedName}: give another --out");
            return (Start.Resume, null);
        }
        if (settings.From is null) return (Start.Scratch, null);

        var (metadata, fromFamily, fromStage) = CliSession.Describe(settings.From);
        var edge = family.EdgeInto(stage.Name);
        var accepted = edge is null ? $"a checkpoint of {stage.QualifiedName}" : $"a checkpoint of {stage.QualifiedName} or of its parent stage {edge.From.Name}";
        if (fromFamily.Name != family.Name)
            throw new CliException($"{settings.From} is a checkpoint of {metadata.Family}/{metadata.Stage}; --stage {stage.Name} takes {accepted}");
        if (fromStage.Info.Name == stage.Name) return (Start.Load, null);
        if (edge is not null && edge.From.Name == fromStage.Info.Name) return (Start.Grow, edge);
        throw new CliException($"{settings.From} is a checkpoint of {metadata.Family}/{metadata.Stage}; --stage {stage.Name} takes {accepted}");
    }

    private static TrainerOptions Options(TrainSettings settings, StageInfo stage, int contextLength)
    {
        // The budget → steps rule is the schedule runner's, so `train` and `run` give a stage the same training.
        var options = stage.Budget is null
            ? new TrainerOptions { Steps = settings.Steps!.Value, Batch = settings.Batch ?? 8, Context = contextLength }
            : TrainerOptions.ForBudget(stage, contextLength);
        var budgetTokensPerStep = options.TokensPerStep;
        options = options with
        {
            Batch = settings.Batch ?? options.Batch,
            GradientAccumulation = settings.Accumulate,
            LearningRate = settings.LearningRate ?? options.LearningRate,
            WarmupShare = settings.Warmup ?? options.WarmupShare,
            EvalBatches = settings.EvalBatches,
            DataSeed = settings.DataSeed,
        };
        var steps = settings.Steps ?? Math.Max(1, (long)Math.Round((double)options.Steps * budgetTokensPerStep / options.TokensPerStep));
        var tenth = (int)Math.Clamp((steps + 9) / 10, 1, int.MaxValue);
        return options with
        {
            Steps = steps,
            CheckpointInterval = settings.CheckpointEvery ?? tenth,
            EvalInterval = settings.EvalEvery ?? tenth,
        };
    }

    private AdamW? Grow(TrainSettings settings, FamilyRegistration family, GrowthMap edge, TokenformerModel model, IBatchSource data,
                        TrainerOptions options, GrowthPolicy? policy, OptimizerGrowthMode optimizerGrowth, ComputeTarget target)
    {
        using var parent = family.Stage(edge.From.Name).Create().Place(target);
        AdamW? parentOptimizer = null;
        try
        {
            if (optimizerGrowth != OptimizerGrowthMode.Reset && settings.OptimizerGrowth is null && !File.Exists(Checkpoint.OptimizerPathFor(settings.From!)))
            {
                // The default needs the parent's optimizer state; a checkpoint without one (grown, imported) starts it afresh.
                session.Console.MarkupLineInterpolated($"[grey]{settings.From} has no optimizer state: the optimizer starts afresh (--optimizer-growth reset)[/]");
                optimizerGrowth = OptimizerGrowthMode.Reset;
            }
            if (optimizerGrowth != OptimizerGrowthMode.Reset)
                (parentOptimizer, _) = TrainingCheckpoints.Resume(settings.From!, parent, options);
            else
                Checkpoint.Load(settings.From!, parent, family.Name, edge.From.Name);
            var (report, optimizer) = StageGrowth.GrowWithOptimizer(edge, parent, parentOptimizer, model, optimizerGrowth, new GrowthOptions { Policy = policy, Seed = settings.Seed },
                                                                    m => Evaluation.Loss(m, data, options.Batch, options.Context, options.EvalBatches));
            session.Console.MarkupLineInterpolated(
                $"grew {edge.From.QualifiedName} → {edge.To.Name} from {settings.From} ({report.Description}): {Numbers.LossChange(report)}{(report.PreservesFunction ? $", function kept within {report.Tolerance:G}" : ", not function-preserving")}; optimizer {OptionNames.Kebab(optimizerGrowth)}");
            return optimizer;
        }
        finally
        {
            parentOptimizer?.Dispose();
        }
    }

    private sealed class Observer(CliSession session, StageInfo stage, ProgressTask task) : ITrainingObserver
    {
        public void StepDone(StepMetrics metrics)
        {
            task.Value = metrics.Step;
            task.Description = $"{Markup.Escape(stage.Name)} loss {metrics.Loss:F3}, {metrics.TokensPerSecond:N0} tok/s";
        }

        public void Evaluated(long step, double validationLoss, double? bitsPerByte)
            => session.Console.MarkupLineInterpolated($"step {step}: validation loss {validationLoss:F4}{(bitsPerByte is double b ? $" ({b:F3} bits/byte)" : "")}");

        public void Saved(string path, long step) => session.Console.MarkupLineInterpolated($"[grey]step {step}: saved {path}[/]");
    }
}
