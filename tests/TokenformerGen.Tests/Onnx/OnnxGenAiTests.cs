using Microsoft.ML.OnnxRuntimeGenAI;
using TokenformerGen.Examples;
using TokenformerGen.Inference;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.Tests.Onnx;

/// <summary>
/// ONNX Runtime GenAI runs an export folder as written (its genai_config.json over the graph's own names) and gives the
/// greedy tokens of <c>generate --onnx</c>.
/// </summary>
/// <remarks>
/// Not tested here: a GenAI batch of prompts of different lengths. GenAI 0.20's <c>AppendTokens</c> fed this graph an
/// attention mask of ones over the pad ids (whatever <c>pad_token_id</c> said), so its padded rows differ; the graph's own
/// ragged batches are tested through <c>OnnxTokenformer.RunRows</c>.
/// </remarks>
public sealed class OnnxGenAiTests : IDisposable
{
    private const int Steps = 24;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "tfg-onnx-genai-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    [InlineData(OnnxPrecision.Fp32)]
    [InlineData(OnnxPrecision.Int4)]
    public void GenAiGeneratesTheGreedyTokensGenerateOnnxGives(OnnxPrecision precision)
    {
        var folder = ExportTinyKjv(precision);
        long[] prompt = [.. "And God said"u8.ToArray().Select(b => (long)b)];
        using var exported = OnnxTokenformer.Load(folder, threads: 1);
        var expected = exported.Generate(prompt, Steps, new SamplingOptions(Temperature: 0));
        Assert.True(expected.Distinct().Count() >= 4, $"greedy decoding barely depends on the context: {string.Join(",", expected)}");

        using var model = new Model(folder);
        Assert.Equal(expected.Select(t => (int)t), GenerateWithGenAi(model, prompt));
    }

    // TinyKjv Large with value tokens 20× larger, so that every greedy step depends on the attended context.
    private string ExportTinyKjv(OnnxPrecision precision)
    {
        using var model = new TinyKjvLarge();
        model.InitializeFromScratch(17);
        model.eval();
        using (no_grad())
        {
            foreach (var (name, parameter) in model.NamedParameters())
                if (name.EndsWith(TokenformerGen.Architecture.ParameterNames.ValueTokens, StringComparison.Ordinal)) parameter.mul_(20);
        }
        var folder = Path.Combine(_folder, OnnxQuantizer.NameOf(precision));
        OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision });
        Assert.True(File.Exists(Path.Combine(folder, OnnxGenAiConfig.FileName)));
        Assert.True(File.Exists(Path.Combine(folder, OnnxGenAiConfig.TokenizerConfigFileName)));
        return folder;
    }

    // Greedy GenAI generation of Steps tokens after one prompt: the new tokens.
    private static int[] GenerateWithGenAi(Model model, long[] prompt)
    {
        using var options = new GeneratorParams(model);
        options.SetSearchOption("max_length", prompt.Length + Steps);
        options.SetSearchOption("do_sample", false);
        using var generator = new Microsoft.ML.OnnxRuntimeGenAI.Generator(model, options);
        generator.AppendTokens([.. prompt.Select(t => (int)t)]);
        while (!generator.IsDone()) generator.GenerateNextToken();
        return generator.GetSequence(0)[prompt.Length..].ToArray();
    }
}
