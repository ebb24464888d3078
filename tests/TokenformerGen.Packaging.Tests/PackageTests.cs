using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace TokenformerGen.Packaging.Tests;

/// <summary>
/// <c>dotnet pack</c> of the torch-free text assembly, the runtime, the generator and the ONNX Runtime library into a
/// temp folder, then a fresh console project (its own nuget.config: that folder plus the usual sources) that
/// references the generator and ONNX Runtime packages, builds (the generator must run: no CS8785) and runs a
/// generated model: forward, growth through the generated GrowFrom, its ONNX export run in ONNX Runtime, and the
/// shipped NeoX tokenizer.
/// Loading libtorch in the consumer proves the runtime's buildTransitive native-library fix applied
/// there. Nothing is written into the repository; the
/// packages get a unique pre-release version, removed from the global packages folder afterwards.
/// </summary>
public sealed class PackageTests(ITestOutputHelper output)
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(30);

    [Fact]
    public void AFreshConsumerRestoresThePackagesBuildsAndRunsAGeneratedModel()
    {
        var root = Path.Combine(Path.GetTempPath(), "tfg-packaging-" + Guid.NewGuid().ToString("N")[..12]);
        var version = "0.1.0-packtest." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var feed = Path.Combine(root, "feed");
        var consumer = Path.Combine(root, "consumer");
        var repo = Repository.Root;
        var total = Stopwatch.StartNew();
        try
        {
            Directory.CreateDirectory(consumer);

            // Pack what the solution build already compiled (no build here: nothing else writes bin/ or obj/).
            foreach (var project in new[] { "src/TokenformerGen.Text/TokenformerGen.Text.csproj", "src/TokenformerGen/TokenformerGen.csproj", "generators/TokenformerGen.Generator/TokenformerGen.Generator.csproj", "src/TokenformerGen.OnnxRuntime/TokenformerGen.OnnxRuntime.csproj", "src/TokenformerGen.Serving/TokenformerGen.Serving.csproj" })
            {
                Run(repo, "pack", Path.Combine(repo, project), "-c", Configuration, "--no-build", "-o", feed,
                    "-p:PackageVersion=" + version, "-p:NuspecOutputPath=" + Path.Combine(root, "nuspec") + "/");
            }

            var textPackage = Path.Combine(feed, $"TokenformerGen.Text.{version}.nupkg");
            var runtimePackage = Path.Combine(feed, $"TokenformerGen.{version}.nupkg");
            var generatorPackage = Path.Combine(feed, $"TokenformerGen.Generator.{version}.nupkg");
            AssertContents(textPackage, "lib/net10.0/TokenformerGen.Text.dll", "lib/net10.0/TokenformerGen.Text.xml", "THIRD-PARTY-NOTICES/neox-20b-tokenizer.NOTICE.md");
            AssertContents(runtimePackage, "lib/net10.0/TokenformerGen.dll", "buildTransitive/TokenformerGen.targets", "buildTransitive/GlibcxxWeakVersionPatch.cs", "build/TokenformerGen.targets");
            AssertContents(generatorPackage, "analyzers/dotnet/cs/TokenformerGen.Generator.dll", "analyzers/dotnet/cs/YamlDotNet.dll",
                "build/TokenformerGen.Generator.props", "buildTransitive/TokenformerGen.Generator.props");
            var nuspec = ReadEntry(generatorPackage, "TokenformerGen.Generator.nuspec");
            Assert.Contains($"<dependency id=\"TokenformerGen\" version=\"[{version}]\"", nuspec, StringComparison.Ordinal);
            // The tokenizers left the runtime: it brings them in through the text package instead.
            var runtimeNuspec = ReadEntry(runtimePackage, "TokenformerGen.nuspec");
            Assert.Contains($"<dependency id=\"TokenformerGen.Text\" version=\"{version}\"", runtimeNuspec, StringComparison.Ordinal);
            Assert.DoesNotContain("Microsoft.ML.Tokenizers", runtimeNuspec, StringComparison.Ordinal);
            // What an engine without libtorch depends on: the tokenizer library and nothing of torch.
            var textNuspec = ReadEntry(textPackage, "TokenformerGen.Text.nuspec");
            Assert.Contains("<dependency id=\"Microsoft.ML.Tokenizers\"", textNuspec, StringComparison.Ordinal);
            Assert.DoesNotContain("torch", textNuspec, StringComparison.OrdinalIgnoreCase);
            // A service that runs exports needs ONNX Runtime and the text package, not TorchSharp.
            var servingNuspec = ReadEntry(Path.Combine(feed, $"TokenformerGen.OnnxRuntime.{version}.nupkg"), "TokenformerGen.OnnxRuntime.nuspec");
            Assert.Contains($"<dependency id=\"TokenformerGen.Text\" version=\"{version}\"", servingNuspec, StringComparison.Ordinal);
            Assert.Contains("<dependency id=\"Microsoft.ML.OnnxRuntime\"", servingNuspec, StringComparison.Ordinal);
            Assert.DoesNotMatch("<dependency id=\"[^\"]*[Tt]orch", servingNuspec);
            Assert.DoesNotContain("<dependency id=\"TokenformerGen\"", servingNuspec, StringComparison.Ordinal);
            Assert.Contains("<dependency id=\"Microsoft.Extensions.AI.Abstractions\"", servingNuspec, StringComparison.Ordinal);   // IChatClient
            // The HTTP server: ASP.NET Core from the shared framework and the ONNX Runtime library, again nothing of torch.
            var httpNuspec = ReadEntry(Path.Combine(feed, $"TokenformerGen.Serving.{version}.nupkg"), "TokenformerGen.Serving.nuspec");
            Assert.Contains($"<dependency id=\"TokenformerGen.OnnxRuntime\" version=\"{version}\"", httpNuspec, StringComparison.Ordinal);
            Assert.Contains("<frameworkReference name=\"Microsoft.AspNetCore.App\"", httpNuspec, StringComparison.Ordinal);
            Assert.DoesNotMatch("<dependency id=\"[^\"]*[Tt]orch", httpNuspec);
            Assert.DoesNotContain("<dependency id=\"TokenformerGen\"", httpNuspec, StringComparison.Ordinal);

            // A consumer that knows nothing of this repository: a fence against outer Directory.* files,
            // a nuget.config that adds the feed to the usual sources, and the project from the templates.
            File.WriteAllText(Path.Combine(root, "Directory.Build.props"), "<Project />");
            File.WriteAllText(Path.Combine(root, "Directory.Build.targets"), "<Project />");
            File.WriteAllText(Path.Combine(root, "Directory.Packages.props"), "<Project />");
            File.WriteAllText(Path.Combine(consumer, "nuget.config"),
                $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="tokenformergen-packtest" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            var templates = Path.Combine(AppContext.BaseDirectory, "Consumer");
            File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"),
                File.ReadAllText(Path.Combine(templates, "Consumer.csproj.template")).Replace("$VERSION$", version, StringComparison.Ordinal));
            File.Copy(Path.Combine(templates, "Program.cs"), Path.Combine(consumer, "Program.cs"));
            File.Copy(Path.Combine(templates, "Pack.tfmodel.yaml"), Path.Combine(consumer, "Pack.tfmodel.yaml"));

            var build = Run(consumer, "build", "-c", "Release", "-v", "detailed");
            Assert.DoesNotContain("CS8785", build, StringComparison.Ordinal);
            Assert.DoesNotContain("TFG", build.Replace("TFG_", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            // The runtime's native-library fix came with the package (transitively) and ran after the copy.
            Assert.Contains($"tokenformergen/{version}/buildTransitive/TokenformerGen.targets", build, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Target \"TokenformerGenPatchLibTorchSharp", build, StringComparison.Ordinal);

            var app = Path.Combine(consumer, "bin", "Release", "net10.0", "Consumer.dll");
            var run = Run(consumer, "exec", app);
            var lines = run.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("small logits 2x8x256", lines);
            Assert.Contains("grown logits 2x8x256", lines);
            var difference = double.Parse(lines.Single(l => l.StartsWith("max difference ", StringComparison.Ordinal))["max difference ".Length..], CultureInfo.InvariantCulture);
            Assert.True(difference <= 1e-5, $"zero_keys growth changed the logits by {difference}");
            Assert.Contains(lines, l => l.StartsWith("declared Declared ", StringComparison.Ordinal));
            Assert.Contains("registry Declared,Pack", lines);
            Assert.Contains("neox 12092,1533", lines);   // "Hello world", read from the text package's embedded tokenizer.json
            var onnx = double.Parse(lines.Single(l => l.StartsWith("onnx difference ", StringComparison.Ordinal))["onnx difference ".Length..], CultureInfo.InvariantCulture);
            Assert.True(onnx <= 1e-5, $"the packaged ONNX export and runtime changed the logits by {onnx}");
            output.WriteLine($"packed, restored, built and ran the consumer in {total.Elapsed.TotalSeconds:F0} s");
        }
        finally
        {
            TryDelete(root);
            var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (var id in new[] { "tokenformergen.text", "tokenformergen", "tokenformergen.generator", "tokenformergen.onnxruntime" })
            {
                TryDelete(Path.Combine(globalPackages, id, version));
                if (Directory.Exists(Path.Combine(globalPackages, id)) && !Directory.EnumerateFileSystemEntries(Path.Combine(globalPackages, id)).Any())
                {
                    TryDelete(Path.Combine(globalPackages, id));
                }
            }
        }
    }

    private static void AssertContents(string package, params string[] entries)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            Assert.True(names.Contains(entry), $"{Path.GetFileName(package)} lacks {entry}; it has: {string.Join(", ", names.Order(StringComparer.Ordinal))}");
        }
    }

    private static string ReadEntry(string package, string entry)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        using var reader = new StreamReader(zip.GetEntry(entry)!.Open());
        return reader.ReadToEnd();
    }

    /// <summary>Runs <c>dotnet</c> without build servers (nothing left running) and returns its output; fails on a non-zero exit.</summary>
    private string Run(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (arguments[0] is "build" or "pack")
        {
            start.ArgumentList.Add("--disable-build-servers");
            start.ArgumentList.Add("-nodeReuse:false");
        }

        // The test host runs under MSBuild/VSTest: do not let their settings leak into a fresh build.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var text = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} timed out after {StepTimeout}");
        }

        text.Append(stdout.Result).Append(stderr.Result);
        output.WriteLine($"dotnet {arguments[0]}: exit {process.ExitCode} in {stopwatch.Elapsed.TotalSeconds:F1} s");
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed ({process.ExitCode}):\n{Tail(text.ToString())}");
        return text.ToString();
    }

    private static string Tail(string text) => text.Length <= 12_000 ? text : "…" + text[^12_000..];

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is not a test failure.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>The repository these tests run in.</summary>
internal static class Repository
{
    /// <summary>The folder holding TokenformerGen.sln, above the test binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TokenformerGen.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TokenformerGen.sln not found above " + AppContext.BaseDirectory);
    }
}
