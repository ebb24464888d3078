using TokenformerGen.Data;
using TokenformerGen.Inference;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Reference;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.Tests.ZeroShot;

/// <summary>
/// Hand-made items of every task, scored on a tiny model with the released models' full 50,304-wide output (the GPT-NeoX
/// tokenizer, context 32) and checked request by request against the float64 forward of <see cref="SampleReference"/>,
/// which shares no code with the model or the scorer; then batch 1 against batch 7 and against the documents reversed.
/// </summary>
public sealed class TaskScoringTests
{
    // Each task's JSONL, with the traps: double spaces, a HellaSwag ending that starts with a bracket and a ctx_b to
    // capitalise, WinoGrande's shared suffix, multi-token LAMBADA words and one passage longer than the context,
    // non-ASCII choices (one outside the BMP) for acc_norm, ARC keys 1–4 and A–E.
    private static readonly (string Task, string[] Lines)[] Items =
    [
        ("lambada_openai", [
            """{"text": "She opened the door and saw her  grandmother"}""",
            """{"text": "The recipe needed flour, sugar and unbelievably"}""",
            """{"text": "It was a long day of walking through the hills, past the river and the mill, over the old bridge, and along the road that led back home to the village where his mother waited for her son"}""",
        ]),
        ("hellaswag", [
            """{"activity_label": "Baking cookies", "ctx_a": "A woman mixes flour in a bowl.", "ctx_b": "she  POURS the dough", "endings": ["[step] onto a tray.", "into the oven [title] quickly.", "on the floor.", "into a cup."], "label": "0"}""",
            """{"activity_label": "Running", "ctx_a": "A man runs on a track.", "ctx_b": "the crowd", "endings": ["cheers loudly.", "eats  soup.", "[header] flies away.", "sleeps."], "label": 0}""",
        ]),
        ("piqa", [
            """{"goal": "Make a café au lait", "sol1": "Mix coffee with hot milk, naïvely.", "sol2": "Mix coffee with 𝔘𝔘 ice.", "label": 0}""",
            """{"goal": "Dry wet shoes", "sol1": "Stuff them with newspaper.", "sol2": "Put them  in water.", "label": 0}""",
        ]),
        ("arc_easy", [
            """{"id": "a", "question": "Which of these is a metal?", "choices": {"text": ["wood", "iron", "glass", "water"], "label": ["1", "2", "3", "4"]}, "answerKey": "2"}""",
        ]),
        ("arc_challenge", [
            """{"id": "b", "question": "What do plants need to make food?", "choices": {"text": ["sunlight", "sand", "noise", "plastic", "smoke"], "label": ["A", "B", "C", "D", "E"]}, "answerKey": "A"}""",
        ]),
        ("winogrande", [
            """{"sentence": "The trophy did not fit in the suitcase because _ was too big.", "option1": "the trophy", "option2": "the suitcase", "answer": "1"}""",
            """{"sentence": "Anna gave Zoë her  book because _ had finished it.", "option1": "Anna", "option2": "Zoë", "answer": "1"}""",
        ]),
    ];

    private static SampleLargeVocabularyOnly Model()
    {
        var model = new SampleLargeVocabularyOnly();
        model.InitializeFromScratch(5);
        // Spread the logits (embedding std 0.02 → 0.5) so that argmaxes are clear. A random model is greedy on none of
        // these continuations; ScorerTests (TokenformerGen.Text.Tests) covers greedy ones on a hand-computed model.
        using (no_grad()) model.WordEmbeddings.Weight.mul_(25);
        model.eval();
        return model;
    }

    private static (double LogLikelihood, bool Greedy) Reference(SampleLargeVocabularyOnly model, EncodedRequest request)
    {
        // lm-eval's input: the last context + 1 tokens of context and continuation, without the last.
        var whole = request.Context.Concat(request.Continuation).Select(t => (long)t).ToArray();
        var input = whole[Math.Max(0, whole.Length - 33)..^1];
        var logits = SampleReference.Logits(model, tensor(input).unsqueeze(0));
        double sum = 0;
        var greedy = true;
        for (var j = 0; j < request.Continuation.Length; j++)
        {
            var row = logits[input.Length - request.Continuation.Length + j];
            Assert.Equal(50304, row.Length);
            var max = row.Max();
            var token = request.Continuation[j];
            sum += row[token] - max - Math.Log(row.Sum(x => Math.Exp(x - max)));
            greedy &= Array.IndexOf(row, max) == token;
        }
        return (sum, greedy);
    }

    [Fact]
    public void EveryRequestScoresAsTheFloat64ModelAndBatch7ChangesNothing()
    {
        using var model = Model();
        var engine = new TorchLogLikelihoodModel(model);
        foreach (var (name, lines) in Items)
        {
            var task = ZeroShotTask.Find(name)!;
            var documents = lines.Select((line, i) => task.Parse(line, name, i + 1)).ToList();
            var one = TaskEvaluation.Run(task, documents, NeoXTokenizer.Instance, engine, batch: 1);
            var seven = TaskEvaluation.Run(task, documents, NeoXTokenizer.Instance, engine, batch: 7);
            // Request order changes nothing either: the documents reversed, at batch 3.
            var reversed = TaskEvaluation.Run(task, documents.AsEnumerable().Reverse().ToList(), NeoXTokenizer.Instance, engine, batch: 3);
            for (var d = 0; d < documents.Count; d++)
                for (var c = 0; c < documents[d].Requests.Count; c++)
                {
                    var back = reversed.Scores[documents.Count - 1 - d][c];
                    Assert.True(Math.Abs(one.Scores[d][c].LogLikelihood - back.LogLikelihood) < 1e-5, $"{name} doc {d} choice {c}: reversed order");
                    Assert.Equal(one.Scores[d][c].IsGreedy, back.IsGreedy);
                }
            for (var d = 0; d < documents.Count; d++)
            {
                var referenceLls = new double[documents[d].Requests.Count];
                for (var c = 0; c < referenceLls.Length; c++)
                {
                    var (ll, greedy) = Reference(model, one.Requests[d][c]);
                    referenceLls[c] = ll;
                    Assert.True(Math.Abs(one.Scores[d][c].LogLikelihood - ll) < 1e-4, $"{name} doc {d} choice {c}: {one.Scores[d][c].LogLikelihood} vs float64 {ll}");
                    Assert.Equal(greedy, one.Scores[d][c].IsGreedy);
                    Assert.True(Math.Abs(one.Scores[d][c].LogLikelihood - seven.Scores[d][c].LogLikelihood) < 1e-5, $"{name} doc {d} choice {c}: batch 1 vs 7");
                    Assert.Equal(one.Scores[d][c].IsGreedy, seven.Scores[d][c].IsGreedy);
                }
                if (task.IsMultipleChoice)
                {
                    // acc and acc_norm from the float64 log-likelihoods, lengths counted in code points (runes).
                    var choices = documents[d].Choices;
                    var pick = Array.IndexOf(referenceLls, referenceLls.Max());
                    var normalised = referenceLls.Select((ll, c) => ll / choices[c].EnumerateRunes().Count()).ToArray();
                    var pickNorm = Array.IndexOf(normalised, normalised.Max());
                    Assert.Equal((pick, pickNorm), TaskMetrics.Picks(one.Scores[d].Select(s => s.LogLikelihood).ToArray(), choices));
                }
            }
            // Decisions identical; perplexity follows the log-likelihoods' last digits.
            Assert.Equal(one.Metrics.Select(m => m.Name), seven.Metrics.Select(m => m.Name));
            foreach (var (a, b) in one.Metrics.Zip(seven.Metrics))
                if (a.Name == "perplexity") Assert.True(Math.Abs(Math.Log(a.Value) - Math.Log(b.Value)) < 1e-5);
                else Assert.Equal((a.Value, a.StandardError), (b.Value, b.StandardError));
        }
    }

    [Fact]
    public void TheTrapsAreWhereTheItemsPutThem()
    {
        using var model = Model();
        var engine = new TorchLogLikelihoodModel(model);
        TaskResult Run(string name)
        {
            var task = ZeroShotTask.Find(name)!;
            var lines = Items.Single(i => i.Task == name).Lines;
            return TaskEvaluation.Run(task, lines.Select((l, i) => task.Parse(l, name, i + 1)).ToList(), NeoXTokenizer.Instance, engine, batch: 2);
        }

        var lambada = Run("lambada_openai");
        // "her  grandmother": the context keeps its trailing space until encoding moves it, and the two-space run is its
        // own added token (50276) in front of "grandmother".
        Assert.Equal(("She opened the door and saw her ", " grandmother"), (lambada.Documents[0].Requests[0].Context, lambada.Documents[0].Requests[0].Continuation));
        Assert.Equal(50276, lambada.Requests[0][0].Continuation[0]);
        Assert.True(lambada.Requests[1][0].Continuation.Length > 1, "\" unbelievably\" is several tokens");
        Assert.True(lambada.Scores[2][0].Truncated);
        Assert.Equal(1, lambada.TruncatedCount);
        Assert.Equal(["perplexity", "acc"], lambada.Metrics.Select(m => m.Name));
        var lls = lambada.Scores.Select(s => s[0].LogLikelihood).ToArray();
        Assert.Equal(Math.Exp(-lls.Average()), lambada.Metrics[0].Value, 9);

        var hellaswag = Run("hellaswag");
        Assert.EndsWith("A woman mixes flour in a bowl. She pours the dough", hellaswag.Documents[0].Requests[0].Context);
        Assert.Equal("  onto a tray.", hellaswag.Documents[0].Requests[0].Continuation);

        var winogrande = Run("winogrande");
        Assert.Equal(winogrande.Requests[0][0].Continuation, winogrande.Requests[0][1].Continuation);
        Assert.NotEqual(winogrande.Requests[0][0].Context, winogrande.Requests[0][1].Context);
        Assert.Equal(["acc"], winogrande.Metrics.Select(m => m.Name));
    }
}
