using Spectre.Console;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Training;

namespace TokenformerGen.Cli.Reports;

/// <summary>
/// Follows a schedule run: one progress bar per mode and stage, metrics as JSON lines per mode and stage,
/// a checkpoint of every trained stage, and the growth checks for the report.
/// </summary>
internal sealed class RunObserver : IScheduleObserver, IDisposable
{
    private readonly CliSession _session;
    private readonly string _directory;
    private readonly FamilyRegistration _family;
    private readonly double? _tokensPerByte;
    private readonly Dictionary<(string Mode, string Stage), ProgressTask> _tasks = new();
    private MetricsLog? _metrics;

    public RunObserver(CliSession session, string directory, FamilyRegistration family, double? tokensPerByte,
                       ProgressContext progress, IReadOnlyList<(StageInfo Stage, long Steps)> plan)
    {
        (_session, _directory, _family, _tokensPerByte) = (session, directory, family, tokensPerByte);
        foreach (var mode in new[] { "progressive", "scratch" })
            foreach (var (stage, steps) in plan)
                _tasks[(mode, stage.Name)] = progress.AddTask(Label(mode, stage.Name), autoStart: false, maxValue: steps);
    }

    public List<GrowthReport> Growths { get; } = [];

    public void StageStarted(string mode, StageInfo stage, long steps)
    {
        var task = _tasks[(mode, stage.Name)];
        task.MaxValue = steps;
        task.StartTask();
        _metrics?.Dispose();
        _metrics = new MetricsLog(Path.Combine(_directory, mode, $"{stage.Name}.metrics.jsonl"));
    }

    public void StepDone(string mode, StageInfo stage, StepMetrics metrics)
    {
        _metrics?.Write(metrics);
        var task = _tasks[(mode, stage.Name)];
        task.Value = metrics.Step;
        task.Description = $"{Label(mode, stage.Name)} loss {metrics.Loss:F3}";
    }

    public void Evaluated(string mode, CurvePoint point)
        => _metrics?.WriteEvaluation(point.Step, point.ValidationLoss, _tokensPerByte is double perByte ? Evaluation.BitsPerByte(point.ValidationLoss, perByte) : null);

    public void Grown(GrowthMap edge, GrowthReport report)
    {
        Growths.Add(report);
        _session.Console.MarkupLineInterpolated(
            $"growth {report.From} → {report.To} ({report.Policy.SpecName()}): validation loss {report.LossBefore:F6} → {report.LossAfter:F6} (Δ {report.Delta:+0.0e0;-0.0e0;0})");
    }

    public void StageFinished(string mode, StageResult result, TokenformerModel model)
    {
        _metrics?.Dispose();
        _metrics = null;
        var stage = model.Stage;
        var metadata = new CheckpointMetadata(_family.Name, stage.Name, stage.SpecHash, result.Steps)
        {
            Extra = new Dictionary<string, string> { ["run_mode"] = mode, ["tokens"] = result.Tokens.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        Directory.CreateDirectory(Path.Combine(_directory, mode));
        Checkpoint.Save(Path.Combine(_directory, mode, $"{stage.Name}.safetensors"), model, metadata);
        var task = _tasks[(mode, stage.Name)];
        task.Description = $"{Label(mode, stage.Name)} val {result.ValidationLoss:F3}";
        task.Value = task.MaxValue;
        task.StopTask();
    }

    public void Dispose() => _metrics?.Dispose();

    private static string Label(string mode, string stage) => Markup.Escape($"{mode,-11} {stage}");
}
