using Spectre.Console;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Scaling;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Reports;

/// <summary>
/// Follows a schedule run: one progress bar per mode and stage, and metrics as JSON lines per mode and stage
/// (<c>MODE/STAGE.metrics.jsonl</c>; a resumed stage keeps the lines up to the step it resumed at).
/// </summary>
internal sealed class RunObserver : IScheduleObserver, IDisposable
{
    private readonly CliSession _session;
    private readonly string _directory;
    private readonly double? _tokensPerByte;
    private readonly Dictionary<(RunMode Mode, string Stage), ProgressTask> _tasks = new();
    private readonly ProgressContext _progress;
    private MetricsLog? _metrics;

    private readonly string _prefix;

    // prefix: put before every bar's label (a baseline family's name, so its bars are told from the run's).
    public RunObserver(CliSession session, string directory, double? tokensPerByte, ProgressContext progress, IEnumerable<StagePlan> plans, string prefix = "")
    {
        (_session, _directory, _tokensPerByte, _progress, _prefix) = (session, directory, tokensPerByte, progress, prefix);
        foreach (var plan in plans)
            _tasks[(plan.Mode, plan.Stage.Name)] = progress.AddTask(Label(plan.Mode, plan.Stage.Name), autoStart: false, maxValue: plan.Options.Steps);
    }

    public void StageStarted(RunMode mode, StageInfo stage, long steps, long startStep)
    {
        var task = Task(mode, stage.Name, steps);
        task.MaxValue = steps;
        task.Value = startStep;
        task.StartTask();
        _metrics?.Dispose();
        _metrics = new MetricsLog(Path.Combine(_directory, mode.Name(), $"{stage.Name}.metrics.jsonl"), startStep);
        if (startStep > 0) _session.Console.MarkupLineInterpolated($"{_prefix}{mode.Name()} {stage.Name}: resumed at step {startStep} of {steps}");
    }

    public void StepDone(RunMode mode, StageInfo stage, StepMetrics metrics)
    {
        _metrics?.Write(metrics);
        var task = Task(mode, stage.Name, metrics.Step);
        task.Value = metrics.Step;
        task.Description = $"{Label(mode, stage.Name)} loss {metrics.Loss:F3}";
    }

    public void Evaluated(RunMode mode, CurvePoint point)
        => _metrics?.WriteEvaluation(point.Step, point.ValidationLoss, _tokensPerByte is double perByte ? Evaluation.BitsPerByte(point.ValidationLoss, perByte) : null);

    public void Grown(GrowthMap edge, GrowthReport report)
        => _session.Console.MarkupLineInterpolated(
            $"growth {report.From} → {report.To} ({report.Description}): {Numbers.LossChange(report)}");

    public void StageFinished(RunMode mode, StageResult result)
    {
        _metrics?.Dispose();
        _metrics = null;
        Complete(mode, result, $"val {result.ValidationLoss:F3}");
    }

    public void StageFound(RunMode mode, StageResult result)
        => Complete(mode, result, mode == RunMode.Scratch && !_tasks.ContainsKey((mode, result.Stage)) ? "the progressive run's" : $"val {result.ValidationLoss:F3}, done before");

    public void Dispose() => _metrics?.Dispose();

    private void Complete(RunMode mode, StageResult result, string note)
    {
        var task = Task(mode, result.Stage, result.Steps);
        task.Description = $"{Label(mode, result.Stage)} {Markup.Escape(note)}";
        task.Value = task.MaxValue;
        task.StopTask();
    }

    // A stage without a bar (a scratch stage shared with the progressive run) gets one when it turns up.
    private ProgressTask Task(RunMode mode, string stage, double steps)
    {
        if (!_tasks.TryGetValue((mode, stage), out var task))
            _tasks[(mode, stage)] = task = _progress.AddTask(Label(mode, stage), autoStart: false, maxValue: Math.Max(1, steps));
        return task;
    }

    private string Label(RunMode mode, string stage) => Markup.Escape($"{_prefix}{mode.Name(),-11} {stage}");
}
