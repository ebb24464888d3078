using System.Globalization;
using System.Text;
using System.Text.Json;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Text.ZeroShot;

/// <summary>A task run on a model: every document's requests and scores, and the aggregated metrics.</summary>
/// <param name="Task">The task.</param>
/// <param name="Documents">The documents scored.</param>
/// <param name="Requests">Per document, its requests in tokens, in choice order.</param>
/// <param name="Scores">Per document, its requests' scores, in choice order.</param>
/// <param name="Metrics">The aggregated metrics with their standard errors.</param>
public sealed record TaskResult(
    ZeroShotTask Task, IReadOnlyList<TaskDocument> Documents, IReadOnlyList<EncodedRequest[]> Requests,
    IReadOnlyList<RequestScore[]> Scores, IReadOnlyList<MetricValue> Metrics)
{
    /// <summary>Requests in all.</summary>
    public int RequestCount => Scores.Sum(s => s.Length);

    /// <summary>Requests longer than the context, scored after left truncation.</summary>
    public int TruncatedCount => Scores.Sum(s => s.Count(x => x.Truncated));

    /// <summary>
    /// Writes one JSON object a line per request: document (0-based) and its line in the data file, choice, context,
    /// continuation, their token ids, the summed log-likelihood, whether every token was greedy, whether it was truncated,
    /// and whether it is the choice picked by <c>acc</c> (and by <c>acc_norm</c>) (null for LAMBADA).
    /// </summary>
    public void WriteLog(Stream stream)
    {
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        for (var d = 0; d < Documents.Count; d++)
        {
            var document = Documents[d];
            (int Pick, int PickNormalised)? picks = Task.IsMultipleChoice
                ? TaskMetrics.Picks(Scores[d].Select(s => s.LogLikelihood).ToArray(), document.Choices) : null;
            for (var c = 0; c < document.Requests.Count; c++)
            {
                writer.WriteStartObject();
                writer.WriteNumber("doc", d);
                writer.WriteNumber("line", document.Line);
                writer.WriteNumber("choice", c);
                writer.WriteString("context", document.Requests[c].Context);
                writer.WriteString("continuation", document.Requests[c].Continuation);
                WriteIds(writer, "context_ids", Requests[d][c].Context);
                WriteIds(writer, "continuation_ids", Requests[d][c].Continuation);
                writer.WriteNumber("loglikelihood", Scores[d][c].LogLikelihood);
                writer.WriteBoolean("greedy", Scores[d][c].IsGreedy);
                writer.WriteBoolean("truncated", Scores[d][c].Truncated);
                if (picks is var (pick, norm))
                {
                    writer.WriteBoolean("gold", c == document.Gold);
                    writer.WriteBoolean("picked", c == pick);
                    if (Task.Metrics.Contains("acc_norm")) writer.WriteBoolean("picked_norm", c == norm);
                }
                writer.WriteEndObject();
                writer.Flush();
                writer.Reset();
                stream.WriteByte((byte)'\n');
            }
        }
    }

    private static void WriteIds(Utf8JsonWriter writer, string name, int[] ids)
    {
        writer.WriteStartArray(name);
        foreach (var id in ids) writer.WriteNumberValue(id);
        writer.WriteEndArray();
    }

    /// <summary>
    /// The results as lm-evaluation-harness prints them (<c>make_table</c>): one row per metric, values and standard
    /// errors to four decimals, version 1 and zero shots for these tasks.
    /// </summary>
    public static string Table(IEnumerable<TaskResult> results)
    {
        var rows = new List<string[]> { new[] { "Tasks", "Version", "Filter", "n-shot", "Metric", "Value", "", "Stderr" } };
        foreach (var result in results)
        {
            var first = true;
            foreach (var metric in result.Metrics)
            {
                rows.Add([first ? result.Task.Name : "", first ? "1" : "", "none", first ? "0" : "", metric.Name,
                          F4(metric.Value), "±", metric.StandardError is double e ? F4(e) : "N/A"]);
                first = false;
            }
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        bool[] right = [false, true, false, true, false, true, false, true];
        var text = new StringBuilder();
        void Line(string[] cells) => text.Append('|').AppendJoin('|', cells.Select((cell, c) => right[c] ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).Append("|\n");
        Line(rows[0]);
        text.Append('|').AppendJoin('|', widths.Select((w, c) => right[c] ? new string('-', Math.Max(1, w - 1)) + ":" : new string('-', w))).Append("|\n");
        foreach (var row in rows.Skip(1)) Line(row);
        return text.ToString();
    }

    private static string F4(double x) => x.ToString("F4", CultureInfo.InvariantCulture);
}

/// <summary>Runs a task's documents through a model, as lm-evaluation-harness 0.4.1 does zero-shot.</summary>
public static class TaskEvaluation
{
    /// <summary>
    /// Encodes every request of <paramref name="documents"/> with <paramref name="tokenizer"/>, scores them on
    /// <paramref name="model"/> in batches of <paramref name="batch"/> and aggregates the task's metrics.
    /// <paramref name="progress"/> hears how many requests each batch finished.
    /// </summary>
    /// <exception cref="TaskDataException">A request's continuation adds no token, or is longer than the model's context.</exception>
    public static TaskResult Run(ZeroShotTask task, IReadOnlyList<TaskDocument> documents, ITextTokenizer tokenizer,
                                 ILogLikelihoodModel model, int batch, Action<int>? progress = null)
    {
        var encoded = documents.Select(d => d.Requests.Select(r =>
        {
            try { return EncodedRequest.Encode(tokenizer, r); }
            catch (ArgumentException e) { throw new TaskDataException($"{d.Source}: line {d.Line}: {e.Message}"); }
        }).ToArray()).ToList();
        foreach (var (document, requests) in documents.Zip(encoded))
            if (requests.FirstOrDefault(r => r.Continuation.Length > model.Context) is { } tooLong)
                throw new TaskDataException($"{document.Source}: line {document.Line}: the continuation is {tooLong.Continuation.Length} tokens, longer than the model's context of {model.Context}");

        var flat = encoded.SelectMany(r => r).ToList();
        var scores = LogLikelihoodScorer.Score(model, flat, batch, progress);
        var perDocument = new List<RequestScore[]>(documents.Count);
        var at = 0;
        foreach (var requests in encoded)
        {
            perDocument.Add(scores.AsSpan(at, requests.Length).ToArray());
            at += requests.Length;
        }
        return new TaskResult(task, documents, encoded, perDocument, TaskMetrics.Aggregate(task, documents, perDocument));
    }
}
