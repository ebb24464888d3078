using System.Diagnostics;

namespace TokenformerGen.Tests;

/// <summary>Runs a Python 3 script for the optional cross-checks against Python's own readers.</summary>
internal static class Python
{
    /// <summary>The python3 on PATH, or null (the cross-checks then return without asserting).</summary>
    public static string? Find()
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "python3")).FirstOrDefault(File.Exists);

    /// <summary>Runs <paramref name="script"/> (written into <paramref name="folder"/>) with arguments; returns stdout, failing on a non-zero exit.</summary>
    public static string Run(string python, string folder, string script, params string[] arguments)
    {
        var scriptPath = Path.Combine(folder, $"check-{Guid.NewGuid():N}.py");
        File.WriteAllText(scriptPath, script);
        var info = new ProcessStartInfo(python, [scriptPath, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), "python timed out");
        Assert.True(process.ExitCode == 0, stderr.Result);
        return stdout;
    }
}
