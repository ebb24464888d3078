using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Commands;

internal sealed class EvalSettings : CheckpointDataSettings
{
    [CommandOption("--batch <B>")]
    [Description("Sequences per batch. Default: the stage's budget (8 without one)")]
    public int? Batch { get; set; }

    [CommandOption("--context <T>")]
    [Description("Tokens per sequence. Default: the family's context")]
    public int? Context { get; set; }

    [CommandOption("--eval-batches <N>")]
    [Description("Validation batches to use (0: the whole validation split)")]
    [DefaultValue(0)]
    public int EvalBatches { get; set; }
}

/// <summary>Validation loss (and bits per byte) of a checkpoint on the held-out tail of a text.</summary>
internal sealed class EvalCommand(CliSession session) : Command<EvalSettings>
{
    public override int Execute(CommandContext context, EvalSettings settings, CancellationToken cancellationToken)
    {
        session.UseThreads(settings.Threads);
        using var checkpoint = CliSession.Load(settings.Checkpoint, session.Compute(settings), inferenceOnly: true);
        var stage = checkpoint.Stage.Info;
        var contextLength = settings.Context ?? (int)stage.Architecture.Context;
        if (contextLength < 1 || contextLength > stage.Architecture.Context)
            throw new CliException($"--context {contextLength}: give 1..{stage.Architecture.Context} (the family's context)");
        var batch = settings.Batch ?? (int)(stage.Budget?.Batch ?? 8);
        if (batch < 1) throw new CliException("--batch must be at least 1");
        using var corpus = session.OpenCorpus(stage, settings.Data, settings.Tokenizer, settings.Cache);
        var data = new CorpusBatchSource(corpus, 1);
        var maxBatches = settings.EvalBatches > 0 ? settings.EvalBatches : int.MaxValue;
        var windows = Math.Min(corpus.WindowCount(DataSplit.Validation, contextLength), (long)maxBatches * batch);
        if (windows == 0) throw new CliException($"the validation split of {settings.Data ?? session.Defaults.Corpus} is shorter than one window of {contextLength + 1} tokens");
        var loss = session.Console.Status().Start($"evaluating {windows:N0} windows of {contextLength} tokens",
                                                  _ => Evaluation.Loss(checkpoint.Model, data, batch, contextLength, maxBatches));
        var bpb = data.TokensPerByte is double perByte ? $", {Evaluation.BitsPerByte(loss, perByte):F4} bits/byte"
                  : corpus.Dataset is not null ? " (bits per byte unknown: the dataset is pre-tokenized)" : "";
        session.Console.MarkupLineInterpolated(
            $"{stage.QualifiedName} (step {checkpoint.Metadata.Step}, trained in {checkpoint.Metadata.Precision ?? "an unrecorded precision"}): validation loss {loss:F4} nats/token, perplexity {Math.Exp(loss):F2}{bpb} over {windows * contextLength:N0} tokens");
        return 0;
    }
}
