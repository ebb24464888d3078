using System.Diagnostics;
using System.Text.Json;

namespace TokenformerGen.Packaging.Tests;

/// <summary>
/// <c>-p:TorchBackend=cuda-linux</c> is a real switch: MSBuild evaluates the runtime project with it and references the
/// CUDA bundle and not the CPU one, and the runtime learns which bundle it carries (so asking for CUDA on a CPU build is
/// one clear error). The CUDA bundle itself is not served here, so nothing is restored.
/// </summary>
public sealed class TorchBackendTests
{
    private static readonly string Repo = Repository.Root;
    private static readonly string Runtime = Path.Combine(Repo, "src", "TokenformerGen", "TokenformerGen.csproj");

    [Fact]
    public void TheCudaSwitchReferencesTheCudaBundleInsteadOfTheCpuOne()
    {
        var cuda = Evaluate("-p:TorchBackend=cuda-linux");
        Assert.Contains("TorchSharp-cuda-linux", cuda.Packages);
        Assert.DoesNotContain("libtorch-cpu-linux-x64", cuda.Packages);
        Assert.Contains("TorchSharp", cuda.Packages);
        Assert.Equal("cuda-linux", cuda.Metadata["TorchBackend"]);
        // The CUDA bundle is pinned to the managed TorchSharp it was built with.
        Assert.Equal(cuda.Versions["TorchSharp"], cuda.Versions["TorchSharp-cuda-linux"]);

        var cpu = Evaluate();
        Assert.Contains("libtorch-cpu-linux-x64", cpu.Packages);
        Assert.DoesNotContain("TorchSharp-cuda-linux", cpu.Packages);
        Assert.Equal("cpu-linux-x64", cpu.Metadata["TorchBackend"]);
    }

    [Fact]
    public void AMisspeltBackendFailsTheBuildWithTheKnownOnes()
    {
        var (exitCode, output) = Dotnet("msbuild", Runtime, "-t:RequireKnownTorchBackend", "-p:TorchBackend=cuda", "-nologo");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("TorchBackend=cuda is not a TorchSharp bundle this project knows: use cpu-linux-x64 (the default) or cuda-linux", output);
    }

    [Fact]
    public void OnlyTheRuntimeProjectChoosesANativeBundle()
    {
        // One switch: every application gets its bundle through the runtime, so no other project may name one.
        var choosers = Directory.EnumerateFiles(Repo, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(p => File.ReadAllText(p) is var text && (text.Contains("Include=\"libtorch-cpu", StringComparison.Ordinal) || text.Contains("Include=\"TorchSharp-cuda", StringComparison.Ordinal)))
            .Select(p => Path.GetRelativePath(Repo, p).Replace('\\', '/'));
        Assert.Equal(["src/TokenformerGen/TokenformerGen.csproj"], choosers);
    }

    private sealed record Evaluation(HashSet<string> Packages, Dictionary<string, string> Versions, Dictionary<string, string> Metadata);

    // The runtime project as MSBuild evaluates it (no restore, no build): its package references, the central versions
    // and the assembly metadata it will compile in.
    private static Evaluation Evaluate(params string[] properties)
    {
        var (exitCode, output) = Dotnet(["msbuild", Runtime, "-getItem:PackageReference", "-getItem:PackageVersion", "-getItem:AssemblyMetadata", .. properties]);
        Assert.True(exitCode == 0, output);
        var items = JsonDocument.Parse(output).RootElement.GetProperty("Items");
        var packages = items.GetProperty("PackageReference").EnumerateArray().Select(i => i.GetProperty("Identity").GetString()!).ToHashSet();
        var versions = items.GetProperty("PackageVersion").EnumerateArray().ToDictionary(i => i.GetProperty("Identity").GetString()!, i => i.GetProperty("Version").GetString()!);
        var metadata = items.GetProperty("AssemblyMetadata").EnumerateArray().ToDictionary(i => i.GetProperty("Identity").GetString()!, i => i.GetProperty("Value").GetString()!);
        return new Evaluation(packages, versions, metadata);
    }

    private static (int ExitCode, string Output) Dotnet(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Repo };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} timed out");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
