using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.Text.Tests.ZeroShot;

/// <summary>
/// The Python behaviour lm-evaluation-harness's numbers rest on. Every expected value was printed by CPython 3 (its
/// <c>random</c>, <c>str</c> and <c>re</c>, and lm-evaluation-harness 0.4.1's metric formulas typed into it), not by this code.
/// </summary>
public sealed class PythonSemanticsTests
{
    [Fact]
    public void RandomDrawsWhatCPythonDrawsForTheSameSeed()
    {
        var random = new PythonRandom(0);
        Assert.Equal([0.8444218515250481, 0.7579544029403025, 0.420571580830845], [random.NextDouble(), random.NextDouble(), random.NextDouble()]);
        var sample = new double[8];
        new PythonRandom(7).Choices([10.0, 20.0, 30.0, 40.0, 50.0], sample);
        Assert.Equal([20.0, 10.0, 40.0, 10.0, 30.0, 20.0, 10.0, 30.0], sample);
    }

    [Fact]
    public void PerplexityAndItsBootstrapStandardErrorAreLmEvalsNumbers()
    {
        double[] logLikelihoods = [-1.5, -0.25, -3.0, -0.75, -2.0, -0.1, -4.5];
        Assert.Equal(5.63260158444571, TaskMetrics.Perplexity(logLikelihoods), 12);
        // bootstrap_stderr(perplexity, xs, iters=2000): chunks seeded 0 and 1, 1,000 resamples each.
        Assert.Equal(4.465113974166564, TaskMetrics.PerplexityStandardError(logLikelihoods, 2000)!.Value, 10);
        Assert.Null(TaskMetrics.PerplexityStandardError([-1.0]));
    }

    [Fact]
    public void AccuracyStandardErrorIsTheSampleStandardErrorOfTheMean()
    {
        double[] acc = [1, 0, 1, 1, 0, 0, 1];
        Assert.Equal(0.5714285714285714, TaskMetrics.Mean(acc), 15);
        Assert.Equal(0.20203050891044214, TaskMetrics.MeanStandardError(acc)!.Value, 15);
        Assert.Null(TaskMetrics.MeanStandardError([1.0]));
    }

    [Theory]
    [InlineData("hello World", "Hello world")]
    [InlineData("\u01C6emal", "\u01C5emal")]                        // a digraph takes its title-case form
    [InlineData("\u00DFtra\u00DFe", "Sstra\u00DFe")]
    [InlineData("\u00C9COLE", "\u00C9cole")]
    [InlineData("\u03A3\u0391\u03A3 \u039F\u0394\u039F\u03A3", "\u03A3\u03B1\u03C2 \u03BF\u03B4\u03BF\u03C2")]   // word-final sigma
    [InlineData("\u0130STANBUL", "\u0130stanbul")]
    [InlineData("\uFB01ne", "Fine")]
    [InlineData("1ABC", "1abc")]
    [InlineData("", "")]
    [InlineData("\U00010428\U00010400", "\U00010400\U00010428")]   // outside the BMP
    public void CapitalizeIsPythons(string text, string expected) => Assert.Equal(expected, PythonText.Capitalize(text));

    [Theory]
    [InlineData("  Removing ice from car: [header] Then, the man writes over the snow [title] covering the window.  ",
                "Removing ice from car: Then, the man writes over the snow. covering the window.")]
    [InlineData("[step] Wash it.   Then  dry [a] it.", " Wash it.  Then dry it.")]   // an ending that starts with a bracket keeps its space
    [InlineData("x [a]\n[b] y", "x \n y")]                                           // no span across a line break
    [InlineData("a    b", "a  b")]                                                   // one pass only
    public void HellaSwagPreprocessingIsLmEvals(string text, string expected) => Assert.Equal(expected, ZeroShotTask.HellaSwagPreprocess(text));

    [Fact]
    public void WhitespaceAndLengthArePythons()
    {
        Assert.Equal("a", PythonText.Strip(" \u001C\u3000 a\u00A0\u001F "));
        Assert.Equal(3, PythonText.Length("a\U0001D518\u00E9"));   // "a𝔘é": three code points, four UTF-16 units, seven bytes
    }

    [Fact]
    public void AccNormDividesByCodePointsNotUtf16Units()
    {
        // "ab𝔘𝔘" is 4 code points (6 UTF-16 units); "abcdef" is 6. By code points −10/4 = −2.5 < −12/6 = −2, so the
        // second is picked; by UTF-16 units it would be −10/6 ≈ −1.67 > −2, the first.
        Assert.Equal((0, 1), TaskMetrics.Picks([-10.0, -12.0], ["ab\U0001D518\U0001D518", "abcdef"]));
        // A tie goes to the first, as np.argmax.
        Assert.Equal((0, 0), TaskMetrics.Picks([-3.0, -3.0], ["abc", "abc"]));
    }
}
