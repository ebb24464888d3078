extern alias GeneratorAssembly;

using System.Diagnostics;
using System.Text;
using Microsoft.CodeAnalysis;
using TokenformerGen.Generator.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TokenformerGen.Generator.Tests;

/// <summary>
/// Thousands of mutated specs (seeded, so a failure reproduces) through the real generator: none may
/// crash it (CS8785) or hit an internal error (TFG0999); each yields error diagnostics and no code,
/// or code that compiles without warnings.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    // The suite runs 3,000 YAML specs and 600 declarations (about two minutes on two busy cores); fuzz/run.sh specs
    // runs more through these variables (docs/reliability.md).
    private static readonly int Cases = Count("TFG_FUZZ_SPECS", 3000);
    private static readonly int AttributeCases = Count("TFG_FUZZ_DECLARATIONS", 600);
    private const int Seed = 20_241_031;

    private static int Count(string variable, int fallback)
        => int.TryParse(Environment.GetEnvironmentVariable(variable), out var n) && n > 0 ? n : fallback;

    private static readonly string[] Values =
    [
        "[1, 2]", "{ a: 1 }", "true", "null", "~", "''", "'text'", "\"64\"", "-1", "0", "-0", "1.5", "1e400", "-1e400",
        "1e-400", "99999999999999999999999999999", "9223372036854775808", "2147483648", "65537", ".inf", ".nan",
        "&anchor 3", "*anchor", "*budget", "!!str 5", "!custom x", "|\n  block", ">", "@", "`", "%", "\"unterminated",
        "{ <<: *budget }", "[*budget]", "Small", "Medium", "zero_keys", "random", "sqrt_n", "softmax", "fixed", "x",
        "0x40", "1_000", "1__0", "+7", ".5", "6e-4", "\t", "- item", "? complex", "{ qkv: 1, proj: 1, ffn: 1 }",
    ];

    private static readonly string Garbage = "\0\u0001\t\r\n\"'`{}[]:,-?&*!|>%@#<<\\/\u00e9\u03c4\u2028\ufeff\ud83d\ude42\uffff ";

    [Fact]
    public void MutatedSpecsNeverCrashTheGenerator()
    {
        var seed = File.ReadAllText(Path.Combine(RepoPaths.Examples, "TinyKjv.tfmodel.yaml"));
        var random = new Random(Seed);
        var stopwatch = Stopwatch.StartNew();
        int withErrors = 0, generated = 0, warningsOnly = 0;
        var ids = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var generatorTime = TimeSpan.Zero;
        var driver = GeneratorHarness.CreateDriver([], trackSteps: false);

        for (var i = 0; i < Cases; i++)
        {
            var spec = seed;
            var mutations = 1 + random.Next(3);
            for (var m = 0; m < mutations; m++)
            {
                spec = Mutate(spec, random);
            }

            var started = stopwatch.Elapsed;
            var run = GeneratorHarness.Run(driver.AddAdditionalTexts([new InMemoryAdditionalText("/fuzz/Case.tfmodel.yaml", spec)]), GeneratorHarness.EmptyCompilation);
            generatorTime += stopwatch.Elapsed - started;
            var diagnostics = run.Diagnostics;
            foreach (var d in diagnostics)
            {
                ids[d.Id] = ids.GetValueOrDefault(d.Id) + 1;
            }

            var context = $"case {i} (seed {Seed}):\n{spec}\n---\n{GeneratorHarness.Format(diagnostics)}";
            Assert.False(diagnostics.Any(d => d.Id is "CS8785" or "TFG0999"), "generator crashed on " + context);

            if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            {
                withErrors++;
                Assert.True(run.Sources.Count == 0, "code generated despite errors in " + context);
            }
            else
            {
                generated++;
                warningsOnly += diagnostics.IsEmpty ? 0 : 1;
                Assert.True(run.Sources.Keys.Any(k => k.EndsWith(".Registry.g.cs", StringComparison.Ordinal)), "no code for a valid " + context);
                var compile = GeneratorHarness.QuickDiagnostics(run.Output);
                Assert.True(compile.Count == 0, "generated code does not compile for " + context + "\n" + GeneratorHarness.Format(compile));
            }
        }

        output.WriteLine(
            $"{Cases} mutated specs in {stopwatch.Elapsed.TotalSeconds:F1} s: {withErrors} rejected with diagnostics, " +
            $"{generated} generated compiling code ({warningsOnly} of them with warnings); {generatorTime.TotalSeconds:F1} s in the generator.");
        output.WriteLine("Diagnostics seen: " + string.Join(", ", ids.Select(p => $"{p.Key}×{p.Value}")));
        Assert.True(withErrors > Cases / 10 && generated > Cases / 20, "the mutations should produce both outcomes");
    }

    private static readonly string[] ArgumentValues =
    [
        "-1", "0", "int.MaxValue", "int.MinValue", "long.MaxValue", "\"4\"", "null", "null!", "double.NaN", "double.NegativeInfinity",
        "1e308", "(PattentionNorm)9", "(TokenizerKind)(-1)", "(GrowthPolicy)2", "TauPolicy.Fixed", "GrowthPolicy.Random",
        "\"Small\"", "\"Large\"", "\"\"", "\"tiny\"", "Missing.Constant", "nameof(TinyFamily)", "true", "0.1875", "typeof(int)",
        "new[] { 1 }", "'c'", "1L << 40", "checked(int.MaxValue + 1)",
    ];

    /// <summary>
    /// The attribute front end gets broken C# as often as broken values: mutated declarations
    /// (deleted, duplicated or swapped lines, hostile argument values, garbage, truncation) never
    /// crash the generator, and a family with a TFG error generates nothing.
    /// </summary>
    [Fact]
    public void MutatedAttributeDeclarationsNeverCrashTheGenerator()
    {
        var attributeCases = AttributeCases;
        var random = new Random(Seed);
        var stopwatch = Stopwatch.StartNew();
        int withErrors = 0, generated = 0;
        var ids = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var driver = GeneratorHarness.CreateDriver([], trackSteps: false);
        for (var i = 0; i < attributeCases; i++)
        {
            var code = AttributeSpecs.Tiny;
            for (var m = 1 + random.Next(3); m > 0; m--)
            {
                code = MutateDeclaration(code, random);
            }

            var run = GeneratorHarness.Run(driver, GeneratorHarness.WithSources([("/fuzz/TinyFamily.cs", code)]));
            foreach (var d in run.Diagnostics)
            {
                ids[d.Id] = ids.GetValueOrDefault(d.Id) + 1;
            }

            var context = $"case {i} (seed {Seed}):\n{code}\n---\n{GeneratorHarness.Format(run.Diagnostics)}";
            Assert.False(run.Diagnostics.Any(d => d.Id is "CS8785" or "TFG0999"), "generator crashed on " + context);
            if (run.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            {
                withErrors++;
                Assert.True(run.Sources.Count == 0, "code generated despite errors in " + context);
            }
            else if (run.Sources.Count > 0)
            {
                generated++;
            }
        }

        output.WriteLine($"{attributeCases} mutated declarations in {stopwatch.Elapsed.TotalSeconds:F1} s: {withErrors} with TFG errors, {generated} generated.");
        output.WriteLine("Diagnostics seen: " + string.Join(", ", ids.Select(p => $"{p.Key}×{p.Value}")));
        Assert.True(withErrors > attributeCases / 10 && generated > attributeCases / 20, "the mutations should produce both outcomes");
    }

    private static string MutateDeclaration(string code, Random random)
    {
        var lines = code.Split('\n').ToList();
        var line = random.Next(lines.Count);
        switch (random.Next(7))
        {
            case 0:
                lines.RemoveAt(line);
                break;
            case 1:
                lines.Insert(line, lines[line]);
                break;
            case 2:
                var other = random.Next(lines.Count);
                (lines[line], lines[other]) = (lines[other], lines[line]);
                break;
            case 3: // a hostile value for one argument of the line
            case 4:
                var equals = lines[line].IndexOf(" = ", StringComparison.Ordinal);
                if (equals > 0)
                {
                    var end = lines[line].IndexOfAny([',', ')'], equals);
                    lines[line] = lines[line][..(equals + 3)] + ArgumentValues[random.Next(ArgumentValues.Length)] + (end < 0 ? string.Empty : lines[line][end..]);
                }

                break;
            case 5:
                var text = string.Join('\n', lines);
                return text.Insert(random.Next(text.Length + 1), Garbage[random.Next(Garbage.Length)].ToString());
            default:
                var whole = string.Join('\n', lines);
                return whole[..random.Next(whole.Length + 1)];
        }

        return string.Join('\n', lines);
    }

    private static string Mutate(string spec, Random random)
    {
        var lines = spec.Split('\n').ToList();
        var line = random.Next(lines.Count);
        switch (random.Next(10))
        {
            case 0: // delete a line
                lines.RemoveAt(line);
                break;
            case 1: // duplicate a line
                lines.Insert(line, lines[line]);
                break;
            case 2: // swap two lines
                var other = random.Next(lines.Count);
                (lines[line], lines[other]) = (lines[other], lines[line]);
                break;
            case 3: // swap the values of two "key: value" lines
                var a = ValueStart(lines[line]);
                var otherLine = random.Next(lines.Count);
                var b = ValueStart(lines[otherLine]);
                if (a > 0 && b > 0)
                {
                    var va = lines[line][a..];
                    lines[line] = lines[line][..a] + lines[otherLine][b..];
                    lines[otherLine] = lines[otherLine][..b] + va;
                }

                break;
            case 4: // replace a value by one of another type or a hostile one
            case 5:
                var start = ValueStart(lines[line]);
                if (start > 0)
                {
                    lines[line] = lines[line][..start] + Values[random.Next(Values.Length)];
                }
                else
                {
                    lines[line] = Values[random.Next(Values.Length)];
                }

                break;
            case 6: // garbage characters at a random position
                var text = string.Join('\n', lines);
                var at = random.Next(text.Length + 1);
                var garbage = new StringBuilder();
                for (var n = 1 + random.Next(4); n > 0; n--)
                {
                    garbage.Append(Garbage[random.Next(Garbage.Length)]);
                }

                return text.Insert(at, garbage.ToString());
            case 7: // change the indentation
                lines[line] = random.Next(2) == 0 ? "  " + lines[line] : lines[line].TrimStart();
                break;
            case 8: // huge numbers: lengthen a digit run
                var digits = lines[line].IndexOfAny("0123456789".ToCharArray());
                if (digits >= 0)
                {
                    lines[line] = lines[line].Insert(digits, new string('9', 1 + random.Next(40)));
                }

                break;
            default: // truncate
                var whole = string.Join('\n', lines);
                return whole[..random.Next(whole.Length + 1)];
        }

        return string.Join('\n', lines);
    }

    /// <summary>Index where the value of a "key: value" line starts, or -1.</summary>
    private static int ValueStart(string line)
    {
        var colon = line.IndexOf(": ", StringComparison.Ordinal);
        return colon < 0 || line.TrimStart().StartsWith('#') ? -1 : colon + 2;
    }
}
