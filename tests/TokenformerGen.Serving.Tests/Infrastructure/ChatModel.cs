using TokenformerGen.Inference;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TokenformerGen.Serving.Tests.Generated;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.Serving.Tests.Infrastructure;

/// <summary>
/// Chat/Small (bytes, context 64) with seeded random weights, exported once per test run (float32, and int4 in blocks of
/// 16), and what generating from an export one sequence at a time gives: the reference every served answer is compared with.
/// </summary>
internal static class ChatModel
{
    public const string Id = "Chat/Small";

    private static readonly Lazy<string> Exported = new(() => Export(OnnxPrecision.Fp32));

    private static readonly Lazy<string> ExportedInt4 = new(() => Export(OnnxPrecision.Int4));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, OnnxTokenformer> References = new();

    /// <summary>The float32 export folder.</summary>
    public static string Folder => Exported.Value;

    /// <summary>The int4 export folder (MatMulNBits, blocks of 16).</summary>
    public static string Int4Folder => ExportedInt4.Value;

    private static string Export(OnnxPrecision precision)
    {
        var folder = Path.Combine(Path.GetTempPath(), "tfg-serving-" + Guid.NewGuid().ToString("N")[..12]);
        using var model = new ChatSmall();
        model.InitializeFromScratch(seed: 5);
        OnnxExport.Write(model, folder, new OnnxExportOptions { Precision = precision, BlockSize = 16 });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(folder, recursive: true);
        return folder;
    }

    /// <summary>
    /// The text <see cref="OnnxTokenformer.Generate"/> continues <paramref name="prompt"/> with, cut where the end-of-text
    /// byte (unless <paramref name="ignoreEndOfText"/>) or the first of <paramref name="stops"/> appears, and whether it was
    /// cut there (finish reason <c>stop</c>). <paramref name="folder"/> is the export (default: <see cref="Folder"/>).
    /// </summary>
    public static (string Text, string FinishReason) Continue(string prompt, int maxTokens, double temperature, int topK, long seed, IReadOnlyList<string>? stops = null, bool ignoreEndOfText = false, string? folder = null)
    {
        var model = References.GetOrAdd(folder ?? Folder, f => OnnxTokenformer.Load(f, threads: 1));
        var ids = model.Tokenizer.Encode(prompt).Select(id => (long)id).ToList();
        var tokens = model.Generate(ids, maxTokens, new SamplingOptions(temperature, topK, seed, UseCache: true, model.Tokenizer.VocabularySize));
        var end = ignoreEndOfText ? -1 : tokens.IndexOf(model.Tokenizer.EndOfText!.Value);
        var text = model.Tokenizer.Decode(tokens.Take(end < 0 ? tokens.Count : end).Select(t => (int)t).ToArray());
        var stop = (stops ?? []).Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (stop >= 0) return (text[..stop], "stop");
        return (text, end >= 0 ? "stop" : "length");
    }
}
