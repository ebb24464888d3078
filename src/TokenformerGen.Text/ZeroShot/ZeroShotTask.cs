using System.Text.Json;
using System.Text.RegularExpressions;

namespace TokenformerGen.Text.ZeroShot;

/// <summary>One log-likelihood request as text: the model scores <see cref="Continuation"/> after <see cref="Context"/>.</summary>
/// <param name="Context">The prompt, exactly as lm-evaluation-harness builds it zero-shot.</param>
/// <param name="Continuation">The scored text, including its leading target delimiter.</param>
public readonly record struct RequestText(string Context, string Continuation);

/// <summary>
/// One document of a task, turned into its requests: one for LAMBADA, one per choice for the multiple-choice tasks.
/// </summary>
/// <param name="Source">The data file it came from, for messages.</param>
/// <param name="Line">The 1-based line of the data file it came from.</param>
/// <param name="Requests">The requests, in choice order.</param>
/// <param name="Choices">The choice texts whose lengths <c>acc_norm</c> divides by (empty for LAMBADA).</param>
/// <param name="Gold">The index of the right choice (-1 for LAMBADA, where the target is the one continuation).</param>
public sealed record TaskDocument(string Source, int Line, IReadOnlyList<RequestText> Requests, IReadOnlyList<string> Choices, int Gold);

/// <summary>A data file whose content does not fit its task: the message names the file, the line and the field.</summary>
public sealed class TaskDataException(string message) : Exception(message);

/// <summary>
/// The six zero-shot tasks of the TokenFormer paper's Table 1 as lm-evaluation-harness 0.4.1 defines them (each task's
/// YAML and <c>utils.py</c>): the fields of a line of the task's JSONL file, the zero-shot prompt, the continuations
/// and the metrics.
/// </summary>
public sealed partial class ZeroShotTask
{
    private readonly Func<JsonElement, LineReader, TaskDocument> _read;

    private ZeroShotTask(string name, string fields, bool multipleChoice, IReadOnlyList<string> metrics, Func<JsonElement, LineReader, TaskDocument> read)
        => (Name, Fields, IsMultipleChoice, Metrics, _read) = (name, fields, multipleChoice, metrics, read);

    /// <summary>lm-evaluation-harness's task name, e.g. <c>arc_easy</c>.</summary>
    public string Name { get; }

    /// <summary>The fields a line must have, for messages.</summary>
    public string Fields { get; }

    /// <summary>Whether documents have choices (all but LAMBADA).</summary>
    public bool IsMultipleChoice { get; }

    /// <summary>The metrics reported, in lm-evaluation-harness's order: <c>perplexity</c>, <c>acc</c>, <c>acc_norm</c>.</summary>
    public IReadOnlyList<string> Metrics { get; }

    /// <summary>lm-evaluation-harness's target delimiter between the prompt and a choice.</summary>
    public const string TargetDelimiter = " ";

    /// <summary>Every task, by name.</summary>
    public static IReadOnlyList<ZeroShotTask> All { get; } =
    [
        new("lambada_openai", "text", false, ["perplexity", "acc"], ReadLambada),
        new("hellaswag", "activity_label, ctx_a, ctx_b, endings, label", true, ["acc", "acc_norm"], ReadHellaSwag),
        new("piqa", "goal, sol1, sol2, label", true, ["acc", "acc_norm"], ReadPiqa),
        new("arc_easy", "question, choices (text, label), answerKey", true, ["acc", "acc_norm"], ReadArc),
        new("arc_challenge", "question, choices (text, label), answerKey", true, ["acc", "acc_norm"], ReadArc),
        new("winogrande", "sentence, option1, option2, answer", true, ["acc"], ReadWinogrande),
    ];

    /// <summary>The task called <paramref name="name"/>, or null.</summary>
    public static ZeroShotTask? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// Reads a task's JSONL file (gzipped when its name ends in <c>.gz</c>), the first <paramref name="limit"/> documents
    /// when given; blank lines are skipped.
    /// </summary>
    /// <exception cref="TaskDataException">A line is not a JSON object, lacks a field, has a label out of range or an empty choice.</exception>
    public IReadOnlyList<TaskDocument> Read(string path, int? limit = null)
    {
        Stream stream;
        try { stream = File.OpenRead(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TaskDataException($"{path}: cannot be read ({e.Message})");
        }
        using var file = stream;
        using var decompressed = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress) : (Stream)file;
        using var text = new StreamReader(decompressed, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true));
        var documents = new List<TaskDocument>();
        var number = 0;
        while (limit is null || documents.Count < limit)
        {
            string? line;
            try { line = text.ReadLine(); }
            catch (Exception e) when (e is System.Text.DecoderFallbackException or InvalidDataException)
            {
                throw new TaskDataException($"{path}: line {number + 1}: not UTF-8 text ({e.Message})");
            }
            if (line is null) break;
            number++;
            if (line.Trim().Length == 0) continue;
            documents.Add(Parse(line, path, number));
        }
        if (documents.Count == 0) throw new TaskDataException($"{path}: no documents (a {Name} file has one JSON object a line with {Fields})");
        return documents;
    }

    /// <summary>Turns one line of the task's JSONL file into its document; <paramref name="source"/> and <paramref name="line"/> locate errors.</summary>
    /// <exception cref="TaskDataException">The line does not fit the task.</exception>
    public TaskDocument Parse(string json, string source, int line)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new TaskDataException($"{source}: line {line}: not JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new TaskDataException($"{source}: line {line}: not a JSON object (a {Name} line has {Fields})");
            return _read(document.RootElement, new LineReader(this, source, line));
        }
    }

    // Reads fields of one line and words every refusal the same way.
    private readonly struct LineReader(ZeroShotTask task, string source, int line)
    {
        public int Line => line;

        public string Source => source;

        public TaskDataException Fail(string field, string why) => new($"{source}: line {line}: field \"{field}\" {why}");

        public JsonElement Field(JsonElement parent, string name, string path)
        {
            if (!parent.TryGetProperty(name, out var value))
                throw new TaskDataException($"{source}: line {line}: no field \"{path}\" (a {task.Name} line has {task.Fields}; is this another task's file?)");
            return value;
        }

        public string String(JsonElement parent, string name, string? path = null)
        {
            var value = Field(parent, name, path ?? name);
            if (value.ValueKind != JsonValueKind.String) throw Fail(path ?? name, $"is {value.ValueKind}, not a string");
            return value.GetString()!;
        }

        public string Choice(JsonElement parent, string name, string? path = null)
        {
            var value = String(parent, name, path);
            if (value.Length == 0) throw Fail(path ?? name, "is an empty choice");
            return value;
        }

        public List<string> Strings(JsonElement parent, string name, string path)
        {
            var value = Field(parent, name, path);
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0) throw Fail(path, "is not a non-empty array");
            var result = new List<string>();
            var i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String) throw Fail($"{path}[{i}]", $"is {item.ValueKind}, not a string");
                result.Add(item.GetString()!);
                i++;
            }
            return result;
        }

        // A label given as a number or as a string of digits (Hugging Face's exports use both), checked against the choices.
        public int Label(JsonElement parent, string name, int count, int offset = 0)
        {
            var value = Field(parent, name, name);
            int? label = value.ValueKind switch
            {
                JsonValueKind.Number when value.TryGetInt32(out var n) => n,
                JsonValueKind.String when int.TryParse(value.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
                _ => null,
            };
            if (label is not int index || index - offset < 0 || index - offset >= count)
                throw Fail(name, $"is {value.GetRawText()}, not a label in {offset}..{count - 1 + offset}");
            return index - offset;
        }
    }

    // lambada_openai.yaml: the context is the text up to its last U+0020, the target " " + the last word.
    private static TaskDocument ReadLambada(JsonElement doc, LineReader r)
    {
        var text = r.String(doc, "text");
        if (text.Length == 0) throw r.Fail("text", "is empty");
        var words = text.Split(' ');
        return new(r.Source, r.Line, [new(string.Join(' ', words[..^1]), " " + words[^1])], [], -1);
    }

    // hellaswag utils.py: the query is the activity label, ctx_a and ctx_b capitalised, then preprocessed like each ending.
    private static TaskDocument ReadHellaSwag(JsonElement doc, LineReader r)
    {
        var label = r.String(doc, "activity_label");
        var ctxA = r.String(doc, "ctx_a");
        var ctxB = r.String(doc, "ctx_b");
        var endings = r.Strings(doc, "endings", "endings");
        for (var i = 0; i < endings.Count; i++)
            if (endings[i].Length == 0) throw r.Fail($"endings[{i}]", "is an empty choice");
        var gold = r.Label(doc, "label", endings.Count);
        var query = HellaSwagPreprocess(label + ": " + ctxA + " " + PythonText.Capitalize(ctxB));
        var choices = endings.Select(HellaSwagPreprocess).ToList();
        for (var i = 0; i < choices.Count; i++)
            if (choices[i].Length == 0) throw r.Fail($"endings[{i}]", "is empty once preprocessed (acc_norm would divide by zero)");
        return MultipleChoice(r, query, choices, gold);
    }

    /// <summary>
    /// HellaSwag's <c>preprocess</c>: strip, <c>" [title]"</c> → <c>". "</c>, bracketed spans removed (shortest match,
    /// not across lines), then one left-to-right pass replacing each double space with one.
    /// </summary>
    public static string HellaSwagPreprocess(string text)
    {
        text = PythonText.Strip(text).Replace(" [title]", ". ", StringComparison.Ordinal);
        return Bracketed().Replace(text, "").Replace("  ", " ", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\[.*?\]", RegexOptions.CultureInvariant)]
    private static partial Regex Bracketed();

    // piqa.yaml: "Question: {goal}\nAnswer:" with the two solutions.
    private static TaskDocument ReadPiqa(JsonElement doc, LineReader r)
    {
        var goal = r.String(doc, "goal");
        List<string> choices = [r.Choice(doc, "sol1"), r.Choice(doc, "sol2")];
        return MultipleChoice(r, $"Question: {goal}\nAnswer:", choices, r.Label(doc, "label", 2));
    }

    // arc_easy.yaml: "Question: {question}\nAnswer:"; the gold is answerKey's place among choices.label, whether the
    // labels are A–E or 1–4. Hugging Face's rows (question, choices.text, choices.label) and AI2's own JSONL
    // (question.stem, question.choices[].text and .label) are both read.
    private static TaskDocument ReadArc(JsonElement doc, LineReader r)
    {
        var question = r.Field(doc, "question", "question");
        string stem;
        List<string> texts, labels;
        if (question.ValueKind == JsonValueKind.Object)
        {
            stem = r.String(question, "stem", "question.stem");
            var list = r.Field(question, "choices", "question.choices");
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0) throw r.Fail("question.choices", "is not a non-empty array");
            texts = [];
            labels = [];
            var i = 0;
            foreach (var choice in list.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object) throw r.Fail($"question.choices[{i}]", "is not an object");
                texts.Add(r.Choice(choice, "text", $"question.choices[{i}].text"));
                labels.Add(r.String(choice, "label", $"question.choices[{i}].label"));
                i++;
            }
        }
        else
        {
            stem = r.String(doc, "question");
            var choices = r.Field(doc, "choices", "choices");
            if (choices.ValueKind != JsonValueKind.Object) throw r.Fail("choices", "is not an object with text and label");
            texts = r.Strings(choices, "text", "choices.text");
            labels = r.Strings(choices, "label", "choices.label");
            if (labels.Count != texts.Count) throw r.Fail("choices.label", $"has {labels.Count} labels for {texts.Count} choices");
            for (var i = 0; i < texts.Count; i++)
                if (texts[i].Length == 0) throw r.Fail($"choices.text[{i}]", "is an empty choice");
        }
        var key = r.String(doc, "answerKey");
        var gold = labels.IndexOf(key);
        if (gold < 0) throw r.Fail("answerKey", $"is \"{key}\", not one of the labels {string.Join(", ", labels)}");
        return MultipleChoice(r, $"Question: {stem}\nAnswer:", texts, gold);
    }

    // winogrande preprocess_winogrande.py: each option replaces the blank in the context, and the shared rest of the
    // sentence after the blank (stripped) is the one continuation scored after each ("partial scoring").
    private static TaskDocument ReadWinogrande(JsonElement doc, LineReader r)
    {
        var sentence = r.String(doc, "sentence");
        var blank = sentence.IndexOf('_', StringComparison.Ordinal);
        if (blank < 0) throw r.Fail("sentence", "has no blank \"_\"");
        List<string> options = [r.Choice(doc, "option1"), r.Choice(doc, "option2")];
        var gold = r.Label(doc, "answer", 2, offset: 1);
        var target = TargetDelimiter + PythonText.Strip(sentence[(blank + 1)..]);
        var contexts = options.Select(o => sentence[..blank] + o).ToList();
        return new(r.Source, r.Line, contexts.Select(c => new RequestText(c, target)).ToList(), contexts, gold);
    }

    private static TaskDocument MultipleChoice(LineReader r, string context, IReadOnlyList<string> choices, int gold)
        => new(r.Source, r.Line, choices.Select(c => new RequestText(context, TargetDelimiter + c)).ToList(), choices, gold);
}
