using System.Text.Json;
using System.Text.Json.Nodes;

namespace TokenformerGen.Training;

/// <summary>
/// Metrics as JSON lines, one object per step (<c>step, loss, tokens, flops, wall_s, tokens_per_s,
/// lr, grad_norm</c>) and one per evaluation (<c>step, val_loss</c>, and <c>val_bpb</c> when known).
/// Each line is flushed as written; reopening for a resumed run drops lines past the resumed step.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    /// <summary>Opens <paramref name="path"/>, keeping only lines up to <paramref name="resumeStep"/> (all lines are dropped for 0).</summary>
    public MetricsLog(string path, long resumeStep = 0)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var kept = File.Exists(path) && resumeStep > 0
            ? File.ReadLines(path).Where(line => StepOf(line) is long step && step <= resumeStep).ToList()
            : [];
        Checkpoints.AtomicFile.Write(path, s =>
        {
            using var w = new StreamWriter(s, leaveOpen: true);
            foreach (var line in kept) w.WriteLine(line);
        });
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    /// <summary>Appends a step's metrics.</summary>
    public void Write(StepMetrics m)
        => Append(new JsonObject
        {
            ["step"] = m.Step, ["loss"] = m.Loss, ["tokens"] = m.Tokens, ["flops"] = m.Flops, ["wall_s"] = m.WallSeconds,
            ["tokens_per_s"] = m.TokensPerSecond, ["lr"] = m.LearningRate, ["grad_norm"] = m.GradientNorm,
        });

    /// <summary>Appends an evaluation.</summary>
    public void WriteEvaluation(long step, double validationLoss, double? bitsPerByte)
    {
        var line = new JsonObject { ["step"] = step, ["val_loss"] = validationLoss };
        if (bitsPerByte is double bpb) line["val_bpb"] = bpb;
        Append(line);
    }

    private void Append(JsonObject line) => _writer.WriteLine(line.ToJsonString());

    private static long? StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"]?.GetValue<long>();
        }
        catch (JsonException)
        {
            return null;   // a line torn by a kill
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _writer.Dispose();
}
