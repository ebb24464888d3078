using TokenformerGen.Text.Data;
using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.Text.Tests.ZeroShot;

/// <summary>
/// Each task's JSONL lines turned into lm-evaluation-harness 0.4.1's zero-shot requests (expected texts worked out by
/// hand from the task YAML and utils.py), the token split of a request, and the refusals of lines that do not fit.
/// </summary>
public sealed class TaskReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tfg-tasks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TaskDocument Parse(string task, string json) => ZeroShotTask.Find(task)!.Parse(json, "items.jsonl", 1);

    [Fact]
    public void LambadaSplitsOnTheLastPlainSpaceOnly()
    {
        // The passage ends "the\u00A0old  house": a no-break space is not a split, and the double space leaves an empty word.
        var doc = Parse("lambada_openai", """{"text": "He walked to the\u00A0old  house"}""");
        Assert.Equal([new RequestText("He walked to the\u00A0old ", " house")], doc.Requests);
        Assert.Equal(-1, doc.Gold);
    }

    [Fact]
    public void HellaSwagBuildsItsQueryAndEndingsAsUtilsPyDoes()
    {
        var doc = Parse("hellaswag", """
            {"activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow covering the window of a car.",
             "ctx_b": "then  A WOMAN wearing winter clothes", "endings": ["[step] smiles.", " [title] waves  back.", "walks away.", "sits down."], "label": "1"}
            """.ReplaceLineEndings(" "));
        const string query = "Removing ice from car: Then, the man writes over the snow covering the window of a car. Then a woman wearing winter clothes";
        Assert.Equal(query, doc.Requests[0].Context);
        // Stripped first, so " [title]" no longer matches at the start; the bracket goes and its space stays, and the
        // target delimiter makes that a double space in the continuation.
        Assert.Equal([" smiles.", " waves back.", "walks away.", "sits down."], doc.Choices);
        Assert.Equal("  smiles.", doc.Requests[0].Continuation);
        Assert.Equal(1, doc.Gold);
    }

    [Fact]
    public void PiqaAndArcUseTheQuestionAnswerTemplate()
    {
        var piqa = Parse("piqa", """{"goal": "Keep bread fresh", "sol1": "Freeze it.", "sol2": "Wet it.", "label": 0}""");
        Assert.Equal(new RequestText("Question: Keep bread fresh\nAnswer:", " Wet it."), piqa.Requests[1]);
        var hf = Parse("arc_easy", """{"id": "x", "question": "Which is a metal?", "choices": {"text": ["wood", "iron", "glass", "water"], "label": ["1", "2", "3", "4"]}, "answerKey": "2"}""");
        Assert.Equal((1, "Question: Which is a metal?\nAnswer:", " iron"), (hf.Gold, hf.Requests[1].Context, hf.Requests[1].Continuation));
        var ai2 = Parse("arc_challenge", """{"id": "y", "question": {"stem": "Pick C.", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}, {"text": "c", "label": "C"}, {"text": "d", "label": "D"}, {"text": "e", "label": "E"}]}, "answerKey": "C"}""");
        Assert.Equal((2, 5), (ai2.Gold, ai2.Requests.Count));
    }

    [Fact]
    public void WinograndePutsEachOptionInTheContextAndScoresTheSharedRest()
    {
        var doc = Parse("winogrande", """{"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases. ", "option1": "Sarah", "option2": "Maria", "answer": "1"}""");
        Assert.Equal([new RequestText("Sarah was a much better surgeon than Maria so Sarah", " always got the harder cases."),
                      new RequestText("Sarah was a much better surgeon than Maria so Maria", " always got the harder cases.")], doc.Requests);
        Assert.Equal(0, doc.Gold);
    }

    [Fact]
    public void TrailingWhitespaceMovesIntoTheContinuationAndTheContinuationIsTheJointEncodingsTail()
    {
        var tok = NeoXTokenizer.Instance;
        // "a  b" is [66, 50276, 67] (the two-space run is an added token). Context "a  " → "a", continuation "  b".
        var request = EncodedRequest.Encode(tok, new RequestText("a  ", "b"));
        Assert.Equal([66], request.Context);
        Assert.Equal([50276, 67], request.Continuation);
        // No BOS or EOS anywhere; the context is its own encoding ("Hello" = 12092), the continuation " world" = 1533.
        var hello = EncodedRequest.Encode(tok, new RequestText("Hello", " world"));
        Assert.Equal([12092], hello.Context);
        Assert.Equal([1533], hello.Continuation);
        // An empty context is the end-of-text token.
        Assert.Equal([0], EncodedRequest.Encode(tok, new RequestText("", " world")).Context);
    }

    [Fact]
    public void ARequestLongerThanTheContextLosesTokensOnTheLeftAndKeepsItsContinuation()
    {
        var request = new EncodedRequest([1, 2, 3, 4, 5, 6], [7, 8]);
        Assert.Equal([3L, 4, 5, 6, 7], request.Input(5).Input);
        Assert.True(request.Input(5).Truncated);
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7], request.Input(7).Input);
        Assert.False(request.Input(7).Truncated);
    }

    [Theory]
    [InlineData("piqa", """{"text": "a lambada line"}""", "line 1: no field \"goal\"")]
    [InlineData("piqa", """not json""", "line 1: not JSON")]
    [InlineData("piqa", """[1, 2]""", "line 1: not a JSON object")]
    [InlineData("piqa", """{"goal": "g", "sol1": "a", "sol2": "b", "label": 2}""", "line 1: field \"label\" is 2, not a label in 0..1")]
    [InlineData("piqa", """{"goal": "g", "sol1": "", "sol2": "b", "label": 1}""", "line 1: field \"sol1\" is an empty choice")]
    [InlineData("hellaswag", """{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", ""], "label": "0"}""", "line 1: field \"endings[1]\" is an empty choice")]
    [InlineData("hellaswag", """{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "[only a bracket]"], "label": "0"}""", "line 1: field \"endings[1]\" is empty once preprocessed")]
    [InlineData("hellaswag", """{"activity_label": "a", "ctx_a": "b", "ctx_b": "c", "endings": ["x", "y"], "label": ""}""", "line 1: field \"label\" is \"\", not a label in 0..1")]
    [InlineData("arc_easy", """{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"}""", "line 1: field \"answerKey\" is \"E\", not one of the labels A, B")]
    [InlineData("arc_easy", """{"question": "q", "choices": {"text": ["a", 3], "label": ["A", "B"]}, "answerKey": "A"}""", "line 1: field \"choices.text[1]\" is Number, not a string")]
    [InlineData("winogrande", """{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}""", "line 1: field \"sentence\" has no blank")]
    [InlineData("winogrande", """{"sentence": "a _ b", "option1": "a", "option2": "b", "answer": "3"}""", "line 1: field \"answer\" is \"3\", not a label in 1..2")]
    [InlineData("lambada_openai", """{"goal": "a piqa line"}""", "line 1: no field \"text\"")]
    public void ALineThatDoesNotFitIsRefusedNamingTheFileTheLineAndTheField(string task, string line, string expected)
    {
        var message = Assert.Throws<TaskDataException>(() => ZeroShotTask.Find(task)!.Parse(line, "items.jsonl", 1)).Message;
        Assert.StartsWith("items.jsonl: ", message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void FilesAreReadGzippedOrNotWithLimitAndLineNumbers()
    {
        var path = Path.Combine(_dir, "lambada.jsonl.gz");
        using (var gzip = new System.IO.Compression.GZipStream(File.Create(path), System.IO.Compression.CompressionLevel.Fastest))
        using (var writer = new StreamWriter(gzip))
            writer.Write("{\"text\": \"one two\"}\n\n{\"text\": \"three four\"}\n{\"text\": \"five six\"}\n");
        var task = ZeroShotTask.Find("lambada_openai")!;
        Assert.Equal([1, 3, 4], task.Read(path).Select(d => d.Line));
        Assert.Equal([1, 3], task.Read(path, limit: 2).Select(d => d.Line));

        var bad = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(bad, "{\"text\": \"one two\"}\n{\"text\": 5}\n");
        Assert.Equal($"{bad}: line 2: field \"text\" is Number, not a string", Assert.Throws<TaskDataException>(() => task.Read(bad)).Message);
    }
}
