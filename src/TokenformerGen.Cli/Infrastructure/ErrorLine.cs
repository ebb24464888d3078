using System.Reflection;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Data;
using TokenformerGen.Devices;
using TokenformerGen.Growth;
using TokenformerGen.Onnx;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.ZeroShot;

namespace TokenformerGen.Cli.Infrastructure;

/// <summary>Turns a failure into an exit code and the one line the user sees on stderr.</summary>
internal static class ErrorLine
{
    /// <summary>Exit code of bad input (unknown names, missing or unfit files).</summary>
    public const int InputError = 1;

    /// <summary>Exit code of a command line that does not parse (unknown command or option, missing value).</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a failure that is a bug, not bad input.</summary>
    public const int InternalError = 70;

    private const int MaxProblems = 3;

    /// <summary>The exit code and the single line (no newline) for <paramref name="exception"/>.</summary>
    public static (int ExitCode, string Line) For(Exception exception)
    {
        while (exception is TargetInvocationException or AggregateException && exception.InnerException is not null)
            exception = exception.InnerException!;
        return exception switch
        {
            CliException e => (InputError, e.Message),
            ComputeTargetException e => (InputError, e.Message),
            CommandAppException e => (UsageError, $"{Flatten(e.Message)} (see --help)"),
            CheckpointMismatchException e => (InputError, $"{e.FilePath} does not fit: {Problems(e.Problems)}"),
            CheckpointFormatException e => (InputError, $"{e.FilePath} is not a valid checkpoint: {Flatten(e.Problem)}"),
            FileNotFoundException e => (InputError, Flatten(e.Message)),
            DirectoryNotFoundException e => (InputError, Flatten(e.Message)),
            TokenizerException e => (InputError, Flatten(e.Message)),
            NeoXDatasetException e => (InputError, Flatten(e.Message)),
            TaskDataException e => (InputError, Flatten(e.Message)),
            GrowthException e => (InputError, HeaderAndProblems(e.Message)),
            OnnxExportException e => (InputError, Flatten(e.Message)),
            InvalidDataException e => (InputError, HeaderAndProblems(e.Message)),
            ArgumentException e => (InputError, Flatten(e.Message)),
            UnauthorizedAccessException e => (InputError, Flatten(e.Message)),
            IOException e => (InputError, Flatten(e.Message)),
            _ => (InternalError, $"internal error ({exception.GetType().Name}): {Flatten(exception.Message)} (set TFG_DEBUG=1 for the stack trace)"),
        };
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Flatten(string text) => string.Join(" ", Lines(text));

    // Problems joined by "; ", long lists cut with a count of the rest.
    private static string Problems(IReadOnlyList<string> problems)
    {
        var shown = string.Join("; ", problems.Take(MaxProblems).Select(Flatten));
        return problems.Count > MaxProblems ? $"{shown}; … and {problems.Count - MaxProblems} more" : shown;
    }

    // "Header:\nproblem\nproblem" as "Header: problem; problem".
    private static string HeaderAndProblems(string message)
    {
        var lines = Lines(message);
        return lines.Length <= 1 ? Flatten(message) : $"{lines[0]} {Problems(lines[1..])}";
    }
}
