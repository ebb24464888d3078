using System.Diagnostics;
using System.Text.Json;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>
/// Runs a phase in a fresh copy of this program, so its peak resident memory is its own (not the
/// leftovers of earlier figures). The child writes one result line <c>@@{json}</c> on stdout.
/// </summary>
internal static class ChildProcess
{
    private const string Marker = "@@";

    public static Dictionary<string, JsonElement> Run(TextWriter log, params string[] arguments) => Run(log, new Dictionary<string, string>(), arguments);

    /// <summary>Runs the child with <paramref name="environment"/> added to this process's environment.</summary>
    public static Dictionary<string, JsonElement> Run(TextWriter log, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo { RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        start.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add("--child");
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + host);
        Dictionary<string, JsonElement>? result = null;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith(Marker, StringComparison.Ordinal))
                result = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line[Marker.Length..]);
            else
                log.WriteLine("  [child] " + line);
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || result is null)
            throw new InvalidOperationException($"The child '{string.Join(' ', arguments)}' exited with {process.ExitCode} and {(result is null ? "no" : "a")} result.");
        return result;
    }

    /// <summary>The child's side: writes the result line.</summary>
    public static void Report(object result)
    {
        Console.Out.WriteLine(Marker + JsonSerializer.Serialize(result));
        Console.Out.Flush();
    }
}
