using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Inference;
using TokenformerGen.Text.Inference;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Cli.Tests;

/// <summary>
/// <c>export --onnx</c>, <c>generate --onnx</c> and the OnnxServe example: an exported checkpoint samples the text the
/// checkpoint samples, in ONNX Runtime, with or without TorchSharp in the process.
/// </summary>
public sealed class OnnxTests
{
    /// <summary>Mini/Large exported once for the tests that only read the export.</summary>
    internal static string ExportedLarge => Exported.Value;

    private static readonly Lazy<string> Exported = new(() =>
    {
        var folder = Path.Combine(TestData.NewDirectory("onnx"), "large");
        var output = TestCli.Ok("export", "--checkpoint", MiniCheckpoints.Large, "--onnx", folder);
        Assert.Contains("exported Mini/Large (step 0) to ONNX opset 17", output);
        return folder;
    });

    [Fact]
    public void TheExportSamplesTheTextTheCheckpointSamples()
    {
        string Text(string source, string path, params string[] extra)
            => Continuation(TestCli.Ok(["generate", source, path, "--prompt", "the king", "--length", "40", .. extra]));
        foreach (var options in new[] { new[] { "--seed", "3" }, ["--temperature", "0"], ["--seed", "5", "--top-k", "0", "--no-cache"] })
        {
            var torch = Text("--checkpoint", MiniCheckpoints.Large, options);
            Assert.StartsWith("the king", torch);
            Assert.Equal(torch, Text("--onnx", Exported.Value, options));
        }
        Assert.Equal("Large", OnnxModelCard.Read(Exported.Value).Stage);
    }

    [Fact]
    public void OnnxServeAnswersLikeGenerateWithoutTorchSharp()
    {
        var serve = ExampleBinary("OnnxServe");
        var shipped = Directory.EnumerateFiles(Path.GetDirectoryName(serve)!, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain(shipped, f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase) || f.StartsWith("libc10", StringComparison.Ordinal));
        Assert.Contains("libonnxruntime.so", shipped);

        var expected = Continuation(TestCli.Ok("generate", "--checkpoint", MiniCheckpoints.Large, "--prompt", "the king", "--length", "40", "--seed", "7"));
        var info = new ProcessStartInfo(Host.DotnetHost(), [serve, Exported.Value, "--length", "40", "--seed", "7"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        process.StandardInput.WriteLine("the king");
        process.StandardInput.WriteLine("the king");   // a second request to the loaded model answers alike
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), "OnnxServe did not finish");
        Assert.True(process.ExitCode == 0, stderr);
        Assert.Equal(expected + expected, stdout);
    }

    [Fact]
    public async Task ServeAnswersOverHttpWithTheTokensGenerateGives()
    {
        var server = Host.Start(["serve", "--onnx", Exported.Value, "--port", "0", "--max-batch", "2", "--threads", "1"], Listening(out var address));
        await AskAsync(server, address, "Mini/Large", stop: () =>
        {
            // SIGTERM, as a service manager stops it: the server closes and the command exits 0.
            using var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
            Assert.Contains("stopped", Host.Finish(server));
        });
    }

    [Fact]
    public async Task OnnxServeServesHttpWithoutTorchSharp()
    {
        var info = new ProcessStartInfo(Host.DotnetHost(), [ExampleBinary("OnnxServe"), Exported.Value, "--http", "--port", "0", "--threads", "1"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var server = new Process { StartInfo = info };
        var onLine = Listening(out var address);
        server.OutputDataReceived += (_, e) => { if (e.Data is not null) onLine(e.Data); };
        server.Start();
        server.BeginOutputReadLine();
        await AskAsync(server, address, "Mini/Large");
    }

    // Completes with the address a server process prints when it listens.
    private static Action<string> Listening(out Task<Uri> address)
    {
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        address = listening.Task;
        return line =>
        {
            if (line.StartsWith("listening on ", StringComparison.Ordinal)) listening.TrySetResult(new Uri(line.Split(' ')[2]));
        };
    }

    // Asks a served export for a greedy completion over loopback, compares it with OnnxTokenformer.Generate's, then stops
    // the server with `stop`, or kills it.
    private static async Task AskAsync(Process server, Task<Uri> address, string model, Action? stop = null)
    {
        try
        {
            using var client = new HttpClient { BaseAddress = await address.WaitAsync(TimeSpan.FromMinutes(1)) };
            Assert.Equal("127.0.0.1", client.BaseAddress.Host);
            using var health = JsonDocument.Parse(await client.GetStringAsync("/health"));
            Assert.Equal(model, health.RootElement.GetProperty("model").GetString());
            var response = await client.PostAsJsonAsync("/v1/completions", new { model, prompt = "the king", max_tokens = 12, temperature = 0, ignore_eos = true });
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            using var exported = OnnxRuntime.OnnxTokenformer.Load(Exported.Value, threads: 1);
            var tokens = exported.Generate([.. exported.Tokenizer.Encode("the king").Select(id => (long)id)], 12, new SamplingOptions(Temperature: 0));
            Assert.Equal(exported.Tokenizer.Decode([.. tokens.Select(t => (int)t)]), body.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
            stop?.Invoke();
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.WaitForExit();
        }
    }

    // The prompt and what followed it, to the end of the output (the sampled text may hold line breaks).
    private static string Continuation(string output) => output[output.IndexOf("the king", StringComparison.Ordinal)..];

    // An example's build output (the solution builds it; this project references it for the build order).
    private static string ExampleBinary(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "TokenformerGen.sln"))) directory = directory.Parent;
        Assert.NotNull(directory);
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var path = Path.Combine(directory.FullName, "examples", name, "bin", configuration, "net10.0", name + ".dll");
        Assert.True(File.Exists(path), $"{path} was not built");
        return path;
    }
}
