using System.ComponentModel;
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Inference;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.ZeroShot;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Commands;

internal sealed class EvalSettings : DataSettings
{
    [CommandOption("--checkpoint <FILE>")]
    [Description("A checkpoint (.safetensors) written by this tool, run by TorchSharp")]
    public string? Checkpoint { get; set; }

    [CommandOption("--onnx <DIR>")]
    [Description("With --task: a folder written by export --onnx, run by ONNX Runtime (on the CPU, in float32) instead of TorchSharp")]
    public string? Onnx { get; set; }

    [CommandOption("--task <T>")]
    [Description("Score a zero-shot task as lm-evaluation-harness 0.4.1 does, reading its JSONL file from --data: lambada_openai, hellaswag, piqa, arc_easy, arc_challenge or winogrande")]
    public string? Task { get; set; }

    [CommandOption("--limit <N>")]
    [Description("With --task: only the first N documents")]
    public int? Limit { get; set; }

    [CommandOption("--log <FILE>")]
    [Description("With --task: write one JSON line per request (context, continuation, token ids, log-likelihood, greedy, picked)")]
    public string? Log { get; set; }

    [CommandOption("--batch <B>")]
    [Description("Sequences per batch. Default: the stage's budget (8 without one); with --task, 8")]
    public int? Batch { get; set; }

    [CommandOption("--context <T>")]
    [Description("Tokens per sequence. Default: the family's context")]
    public int? Context { get; set; }

    [CommandOption("--eval-batches <N>")]
    [Description("Validation batches to use (0: the whole validation split)")]
    [DefaultValue(0)]
    public int EvalBatches { get; set; }

    public override Spectre.Console.ValidationResult Validate()
    {
        if (Task is null)
        {
            if (Checkpoint is null) return Spectre.Console.ValidationResult.Error("give --checkpoint FILE (or --task T with --checkpoint FILE or --onnx DIR)");
            if (Onnx is not null || Limit is not null || Log is not null)
                return Spectre.Console.ValidationResult.Error("--onnx, --limit and --log go with --task");
            return Spectre.Console.ValidationResult.Success();
        }
        if ((Checkpoint is null) == (Onnx is null)) return Spectre.Console.ValidationResult.Error("give one of --checkpoint FILE and --onnx DIR");
        if (Context is not null || EvalBatches != 0) return Spectre.Console.ValidationResult.Error("--context and --eval-batches go with the loss mode, not --task (a task uses the model's whole context)");
        if (Onnx is not null && (Device != ComputeTarget.Auto || Precision != "fp32" || Tokenizer is not null))
            return Spectre.Console.ValidationResult.Error("--device, --precision and --tokenizer go with --checkpoint: an ONNX export runs on the CPU in float32 with the tokenizer its card names");
        return Spectre.Console.ValidationResult.Success();
    }
}

/// <summary>
/// Validation loss (and bits per byte) of a checkpoint on the held-out tail of a text; or, with <c>--task</c>, a zero-shot
/// task scored as lm-evaluation-harness 0.4.1 scores it, on a checkpoint or an ONNX export.
/// </summary>
internal sealed class EvalCommand(CliSession session) : Command<EvalSettings>
{
    public override int Execute(CommandContext context, EvalSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Task is not null) return EvaluateTask(settings);
        session.UseThreads(settings.Threads);
        using var checkpoint = CliSession.Load(settings.Checkpoint!, session.Compute(settings), inferenceOnly: true);
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

    private int EvaluateTask(EvalSettings settings)
    {
        var task = ZeroShotTask.Find(settings.Task!)
            ?? throw new CliException($"--task {settings.Task}: give one of {string.Join(", ", ZeroShotTask.All.Select(t => t.Name))}");
        if (settings.Data is null) throw new CliException($"--task {task.Name}: give the task's JSONL file with --data (one object a line with {task.Fields})");
        if (!File.Exists(settings.Data)) throw new CliException($"data file '{settings.Data}' does not exist");
        if (settings.Limit is < 1) throw new CliException("--limit must be at least 1");
        var batch = settings.Batch ?? 8;
        if (batch < 1) throw new CliException("--batch must be at least 1");
        if (settings.Threads is < 1) throw new CliException($"--threads {settings.Threads}: give at least 1");
        var documents = task.Read(settings.Data, settings.Limit);

        if (settings.Onnx is not null)
        {
            if (!Directory.Exists(settings.Onnx)) throw new CliException($"ONNX export folder '{settings.Onnx}' does not exist");
            using var exported = OnnxTokenformer.Load(settings.Onnx, settings.Threads);
            session.Console.MarkupLineInterpolated($"[grey]{exported.Card.Family}/{exported.Card.Stage} in ONNX Runtime (opset {exported.Card.Opset}, CPU, float32); tokenizer: {exported.Tokenizer.Name}[/]");
            return Report(settings, task, documents, exported.Tokenizer, new OnnxLogLikelihoodModel(exported), batch, $"{exported.Card.Family}/{exported.Card.Stage} (ONNX Runtime)");
        }
        session.UseThreads(settings.Threads);
        using var checkpoint = CliSession.Load(settings.Checkpoint!, session.Compute(settings), inferenceOnly: true);
        var tokenizer = session.Tokenizer(checkpoint.Stage.Info, settings.Tokenizer);
        return Report(settings, task, documents, tokenizer, new TorchLogLikelihoodModel(checkpoint.Model), batch,
                      $"{checkpoint.Stage.Info.QualifiedName} (step {checkpoint.Metadata.Step}, TorchSharp)");
    }

    // Scores the documents with a progress bar, prints lm-evaluation-harness's table and what was truncated, writes the log.
    private int Report(EvalSettings settings, ZeroShotTask task, IReadOnlyList<TaskDocument> documents, ITextTokenizer tokenizer,
                       ILogLikelihoodModel model, int batch, string what)
    {
        var requests = documents.Sum(d => d.Requests.Count);
        // Timed from the first request to the last scored, not the metrics after (the bootstrap resamples 100,000 times).
        var clock = Stopwatch.StartNew();
        var seconds = 0.0;
        var result = session.Console.Progress().Start(progress =>
        {
            var bar = progress.AddTask($"{task.Name}: {requests:N0} requests", maxValue: requests);
            return TaskEvaluation.Run(task, documents, tokenizer, model, batch, done =>
            {
                bar.Increment(done);
                seconds = clock.Elapsed.TotalSeconds;
            });
        });
        session.Console.WriteLine($"{what}, zero-shot, batch {batch}");
        session.Console.WriteLine(TaskResult.Table([result]));
        session.Console.WriteLine(
            $"{documents.Count:N0} documents, {result.RequestCount:N0} requests, {result.TruncatedCount:N0} truncated on the left to the context of {model.Context} tokens; "
            + $"{seconds:F1} s ({result.RequestCount / Math.Max(seconds, 1e-9):F1} requests/s)");
        if (settings.Log is not null)
        {
            using var log = File.Create(settings.Log);
            result.WriteLog(log);
            session.Console.WriteLine($"log: {settings.Log} ({result.RequestCount:N0} lines)");
        }
        return 0;
    }
}
