using System.Text;
using Spectre.Console;
using TokenformerGen.Devices;

namespace TokenformerGen.Cli.Tests.Infrastructure;

/// <summary>What one CLI invocation did.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error)
{
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs the command line in-process over the test families, with a plain wide console.</summary>
public static class TestCli
{
    public static CliResult Run(params string[] args) => RunWith(TestData.Defaults, args);

    /// <summary>Runs with other application defaults.</summary>
    public static CliResult RunWith(CliDefaults defaults, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 240;
        var code = TokenformerCli.Run(args, defaults, console, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs and asserts success, returning stdout.</summary>
    public static string Ok(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("", result.Error);
        return result.Out;
    }

    /// <summary>Runs and asserts a non-zero exit with exactly one <c>error: …</c> line on stderr containing <paramref name="expected"/>.</summary>
    public static void Fails(string expected, params string[] args)
    {
        var result = Run(args);
        Assert.True(result.ExitCode != 0, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }
}

/// <summary>A small generated text corpus and folders shared by every test (made once per test run).</summary>
public static class TestData
{
    public static string Root { get; } = CreateRoot();

    public static string Corpus { get; } = WriteCorpus(Path.Combine(Root, "corpus.txt"));

    public static string Cache => Path.Combine(Root, "cache");

    public static CliDefaults Defaults { get; } = new()
    {
        ApplicationName = "cli-tests",
        Family = "Mini",
        Corpus = Corpus,
        CacheDirectory = Path.Combine(Root, "cache"),
        RunsDirectory = Path.Combine(Root, "runs"),
        LoadAverage = () => null,                 // what the suite prints must not depend on how busy the machine is ...
        Cpu = CpuFeatures.With("avx512_bf16"),    // ... nor on which CPU it runs on
    };

    /// <summary>A fresh folder for one test.</summary>
    public static string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(Root, $"{name}-{Guid.NewGuid():N}")).FullName;

    private static string CreateRoot()
    {
        var root = Directory.CreateTempSubdirectory("tfg-cli-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    }

    // ~48 KB of sentences over a small vocabulary: learnable structure, deterministic.
    private static string WriteCorpus(string path)
    {
        string[] subjects = ["the king", "a shepherd", "the people", "his servant", "the prophet", "a woman"];
        string[] verbs = ["went up to", "spake unto", "looked upon", "came down from", "dwelt in", "gave bread to"];
        string[] objects = ["the city", "the mountain", "the house of the lord", "the river", "the wilderness", "his brethren"];
        var random = new Random(7);
        var text = new StringBuilder();
        while (text.Length < 48_000)
            text.Append(subjects[random.Next(subjects.Length)]).Append(' ').Append(verbs[random.Next(verbs.Length)]).Append(' ')
                .Append(objects[random.Next(objects.Length)]).Append(random.Next(4) == 0 ? ".\n" : ", and ");
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
