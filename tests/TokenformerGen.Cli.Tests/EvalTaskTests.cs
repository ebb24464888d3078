using System.Text.Json;
using TokenformerGen.Cli.Tests.Infrastructure;

namespace TokenformerGen.Cli.Tests;

/// <summary><c>eval --task</c>: lm-evaluation-harness's table and request log, on a checkpoint and on its ONNX export, and its refusals.</summary>
public sealed class EvalTaskTests
{
    private static string Write(string name, params string[] lines)
    {
        var path = Path.Combine(TestData.NewDirectory("tasks"), name);
        File.WriteAllLines(path, lines);
        return path;
    }

    // Short enough for Mini's 32-byte context: "Question: king\nAnswer:" is 22 bytes.
    private static readonly Lazy<string> Piqa = new(() => Write("piqa.jsonl",
        """{"goal": "king", "sol1": "said", "sol2": "went  away", "label": 0}""",
        """{"goal": "lord", "sol1": "spake", "sol2": "𝔘𝔘", "label": 1}""",
        """{"goal": "god", "sol1": "created", "sol2": "ended", "label": 0}"""));

    private static List<JsonElement> Log(string path) => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public void ATaskPrintsLmEvalsTableAndLogsEveryRequestTheSameAtAnyBatchAndInOnnxRuntime()
    {
        var dir = TestData.NewDirectory("task-logs");
        string Run(string log, params string[] engine)
            => TestCli.Ok(["eval", "--task", "piqa", "--data", Piqa.Value, .. engine, "--log", Path.Combine(dir, log)]);
        var one = Run("one.jsonl", "--checkpoint", MiniCheckpoints.Large, "--batch", "1");
        Assert.Matches(@"\|Tasks\s*\|Version\|Filter\|n-shot\|Metric\s*\|\s*Value\|\s*\|\s*Stderr\|", one);
        Assert.Matches(@"\|piqa\s*\|\s*1\|none\s*\|\s*0\|acc\s*\|\s*0\.\d{4}\|±\|\s*0\.\d{4}\|", one);
        Assert.Matches(@"\|\s*\|\s*\|none\s*\|\s*\|acc_norm\|\s*0\.\d{4}\|±\|\s*0\.\d{4}\|", one);
        Assert.True(one.Contains("3 documents, 6 requests, 0 truncated on the left to the context of 32 tokens"), one);
        Run("seven.jsonl", "--checkpoint", MiniCheckpoints.Large, "--batch", "7");
        Run("onnx.jsonl", "--onnx", OnnxTests.ExportedLarge, "--batch", "2");

        var (a, b, c) = (Log(Path.Combine(dir, "one.jsonl")), Log(Path.Combine(dir, "seven.jsonl")), Log(Path.Combine(dir, "onnx.jsonl")));
        Assert.Equal(6, a.Count);
        Assert.Equal("Question: king\nAnswer:", a[0].GetProperty("context").GetString());
        Assert.Equal(" went  away", a[1].GetProperty("continuation").GetString());
        Assert.Equal(" went  away".Length, a[1].GetProperty("continuation_ids").GetArrayLength());   // bytes, all ASCII
        Assert.Equal(1, a.Count(x => x.GetProperty("doc").GetInt32() == 0 && x.GetProperty("picked").GetBoolean()));
        foreach (var other in new[] { b, c })
            for (var i = 0; i < a.Count; i++)
            {
                Assert.Equal(a[i].GetProperty("loglikelihood").GetDouble(), other[i].GetProperty("loglikelihood").GetDouble(), 1e-4);
                foreach (var decision in new[] { "greedy", "picked", "picked_norm" })
                    Assert.Equal(a[i].GetProperty(decision).GetBoolean(), other[i].GetProperty(decision).GetBoolean());
            }
    }

    [Fact]
    public void LambadaCountsTheRequestsTruncatedToTheContext()
    {
        var data = Write("lambada.jsonl", """{"text": "and the king said unto them go"}""",
                         """{"text": "in the beginning god created the heaven and the earth and the earth was without form and void"}""");
        var output = TestCli.Ok("eval", "--task", "lambada_openai", "--data", data, "--checkpoint", MiniCheckpoints.Small);
        Assert.Matches(@"\|lambada_openai\|\s*1\|none\s*\|\s*0\|perplexity\|\s*[\d.]+\|±\|\s*[\d.]+\|", output);
        Assert.Contains("2 documents, 2 requests, 1 truncated on the left to the context of 32 tokens", output);
    }

    [Fact]
    public void BadTaskInputIsOneLocatedErrorLine()
    {
        var lambada = Write("lambada.jsonl", """{"text": "one two"}""");
        TestCli.Fails($"{lambada}: line 1: no field \"goal\"", "eval", "--task", "piqa", "--data", lambada, "--checkpoint", MiniCheckpoints.Small);
        var broken = Write("broken.jsonl", """{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}""", "{oops");
        TestCli.Fails($"{broken}: line 2: not JSON", "eval", "--task", "piqa", "--data", broken, "--checkpoint", MiniCheckpoints.Small);
        var outOfRange = Write("range.jsonl", """{"goal": "g", "sol1": "a", "sol2": "b", "label": 5}""");
        TestCli.Fails("line 1: field \"label\" is 5, not a label in 0..1", "eval", "--task", "piqa", "--data", outOfRange, "--checkpoint", MiniCheckpoints.Small);
        var longWord = Write("long.jsonl", $$"""{"text": "a {{new string('b', 40)}}"}""");
        TestCli.Fails($"{longWord}: line 1: the continuation is 41 tokens, longer than the model's context of 32", "eval", "--task", "lambada_openai", "--data", longWord, "--checkpoint", MiniCheckpoints.Small);
        TestCli.Fails("--task mmlu: give one of lambada_openai, hellaswag, piqa, arc_easy, arc_challenge, winogrande", "eval", "--task", "mmlu", "--data", lambada, "--checkpoint", MiniCheckpoints.Small);
        TestCli.Fails("give the task's JSONL file with --data", "eval", "--task", "piqa", "--checkpoint", MiniCheckpoints.Small);
        TestCli.Fails("give one of --checkpoint FILE and --onnx DIR", "eval", "--task", "piqa", "--data", lambada);
        TestCli.Fails("--onnx, --limit and --log go with --task", "eval", "--checkpoint", MiniCheckpoints.Small, "--limit", "3");
    }
}
