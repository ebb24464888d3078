using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Families;
using TokenformerGen.Text.Onnx;
using TorchSharp;

namespace TokenformerGen.Onnx;

/// <summary>Where an export puts the weights.</summary>
public enum OnnxWeights
{
    /// <summary>
    /// In <c>model.onnx.data</c>, which ONNX Runtime maps from the file, unless they are fewer than
    /// <see cref="OnnxExport.InlineBelow"/> bytes (then inside <c>model.onnx</c>: one file, loaded as fast).
    /// </summary>
    Auto,
    /// <summary>Always inside <c>model.onnx</c> (refused beyond <see cref="OnnxExport.InlineLimit"/>).</summary>
    Inline,
    /// <summary>Always in <c>model.onnx.data</c>.</summary>
    External,
}

/// <summary>Choices of an ONNX export.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Where the weights go.</summary>
    public OnnxWeights Weights { get; init; } = OnnxWeights.Auto;

    /// <summary>A Hugging Face <c>tokenizer.json</c> to ship in the folder instead of naming the family's tokenizer.</summary>
    public string? TokenizerFile { get; init; }

    /// <summary>The training step of the checkpoint the weights come from, for the card.</summary>
    public long? TrainingStep { get; init; }

    /// <summary>How every Pattention's and the embedding's matrices are stored (float32 by default).</summary>
    public OnnxPrecision Precision { get; init; } = OnnxPrecision.Fp32;

    /// <summary>Inputs per scale of an int4 export: a power of two from 16 to 256 (32 by default).</summary>
    public int BlockSize { get; init; } = 32;
}

/// <summary>What an export wrote.</summary>
/// <param name="Folder">The export folder.</param>
/// <param name="Card">Its model card.</param>
/// <param name="WeightBytes">Bytes of weights as stored (quantized matrices with their scales).</param>
/// <param name="Nodes">Nodes of the graph.</param>
public sealed record OnnxExportResult(string Folder, OnnxModelCard Card, long WeightBytes, int Nodes);

/// <summary>A model the exporter cannot express: the message names the stage and what is missing.</summary>
public sealed class OnnxExportException(string message) : Exception(message);

/// <summary>
/// Exports a stage's inference graph to ONNX (opset 17) for ONNX Runtime: token ids and each layer's cached keys and
/// values in, logits and the extended caches out, so one graph serves the prompt and every decoding step. The graph is the
/// stage's generated forward replayed on <see cref="OnnxValue"/>s (<see cref="TokenformerModel.ToOnnx"/>), so it is the
/// spec's architecture with nothing described twice; the weights are the model's float32 parameters under their
/// state-dict names.
/// </summary>
/// <remarks>
/// Opset 17 is the first with LayerNormalization, the one fused operator the graph needs; GeLU is spelt with Erf (the
/// Gelu operator needs opset 20), which ONNX Runtime fuses back into one kernel; and opset 17 is the newest that the
/// checker of ONNX 1.12 (Debian 12's python3-onnx) validates.
/// </remarks>
public static class OnnxExport
{
    /// <summary>The ai.onnx operator set of every export.</summary>
    public const int Opset = 17;

    /// <summary>The ONNX IR version that goes with <see cref="Opset"/>.</summary>
    public const long IrVersion = 8;

    /// <summary>The graph's file name.</summary>
    public const string ModelFile = "model.onnx";

    /// <summary>The weights' file name when they are outside the graph.</summary>
    public const string ExternalDataFile = "model.onnx.data";

    /// <summary>The file name of a shipped tokenizer.</summary>
    public const string TokenizerFileName = "tokenizer.json";

    /// <summary>The name of the token-id input.</summary>
    public const string InputIds = "input_ids";

    /// <summary>The name of the logits output.</summary>
    public const string Logits = "logits";

    /// <summary>
    /// Weights below this many bytes stay inside <c>model.onnx</c> by default (<see cref="OnnxWeights.Auto"/>); larger ones
    /// go to <see cref="ExternalDataFile"/>, which loads faster and in less memory (docs/benchmarks.md, figure 10c).
    /// </summary>
    public const long InlineBelow = 64L << 20;

    /// <summary>
    /// Most weight bytes kept inside <c>model.onnx</c>: a protobuf message cannot pass 2 GiB, and 64 MiB stay for the
    /// graph and its constants.
    /// </summary>
    public const long InlineLimit = (1L << 31) - (64L << 20);

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="folder"/>: <see cref="ModelFile"/>, <see cref="ExternalDataFile"/>
    /// when the weights are outside it, <see cref="OnnxModelCard.FileName"/>, ONNX Runtime GenAI's
    /// <see cref="OnnxGenAiConfig.FileName"/> and <see cref="OnnxGenAiConfig.TokenizerConfigFileName"/>, and
    /// <see cref="TokenizerFileName"/> when <see cref="OnnxExportOptions.TokenizerFile"/> is given or the family's
    /// tokenizer is GPT-NeoX-20B's. The folder appears whole or not at all; an earlier export
    /// there is replaced, any other non-empty folder refused.
    /// </summary>
    /// <exception cref="OnnxExportException">The model has a part the graph does not cover.</exception>
    /// <exception cref="IOException">The folder cannot be written or holds something else.</exception>
    public static OnnxExportResult Write(TokenformerModel model, string folder, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        if (options.TokenizerFile is { } tokenizer && !File.Exists(tokenizer))
            throw new FileNotFoundException($"tokenizer file '{tokenizer}' does not exist", tokenizer);
        var graph = Build(model, options.Precision, options.BlockSize);
        var external = options.Weights switch
        {
            OnnxWeights.External => true,
            OnnxWeights.Inline when graph.WeightBytes > InlineLimit
                => throw new OnnxExportException($"{model.Stage.QualifiedName} has {graph.WeightBytes:N0} bytes of weights, more than fit inside one ONNX file ({InlineLimit:N0}): export them to {ExternalDataFile}"),
            OnnxWeights.Inline => false,
            _ => graph.WeightBytes >= InlineBelow,
        };
        var card = CardFor(model.Stage, options, external) with
        {
            Weights = OnnxQuantizer.NameOf(options.Precision),
            BlockSize = options.Precision == OnnxPrecision.Int4 ? options.BlockSize : null,
        };
        AtomicFolder.Write(folder, existing => File.Exists(Path.Combine(existing, OnnxModelCard.FileName)), temp =>
        {
            var metadata = new Dictionary<string, string>
            {
                ["family"] = card.Family,
                ["stage"] = card.Stage,
                ["spec_sha256"] = card.SpecSha256,
            };
            if (card.TrainingStep is { } step) metadata["training_step"] = step.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Proto.ModelProto proto;
            if (external)
            {
                using var data = File.Create(Path.Combine(temp, ExternalDataFile));
                proto = graph.ToModel(Opset, IrVersion, metadata, data, ExternalDataFile);
            }
            else
            {
                proto = graph.ToModel(Opset, IrVersion, metadata);
            }
            using (var file = File.Create(Path.Combine(temp, ModelFile))) Google.Protobuf.MessageExtensions.WriteTo(proto, file);
            File.WriteAllText(Path.Combine(temp, OnnxModelCard.FileName), card.ToJson());
            if (options.TokenizerFile is not null) File.Copy(options.TokenizerFile, Path.Combine(temp, TokenizerFileName));
            // For ONNX Runtime GenAI: its configuration, and the tokenizer as a tokenizer.json it can read (the shipped
            // GPT-NeoX-20B one for neox families; a byte or GPT-2 family tokenizes outside GenAI and feeds it ids).
            else if (card.TokenizerKind == TokenizerKind.NeoX) File.WriteAllBytes(Path.Combine(temp, TokenizerFileName), NeoXTokenizer.Json());
            var endOfText = Tokenizers.For(card.TokenizerKind, options.TokenizerFile, card.PaddedVocabulary).Tokenizer.EndOfText;
            File.WriteAllText(Path.Combine(temp, OnnxGenAiConfig.FileName), OnnxGenAiConfig.Json(card, endOfText));
            File.WriteAllText(Path.Combine(temp, OnnxGenAiConfig.TokenizerConfigFileName), OnnxGenAiConfig.TokenizerConfigJson(card));
        });
        return new OnnxExportResult(folder, card, graph.WeightBytes, graph.NodeCount);
    }

    /// <summary>
    /// The inference graph of <paramref name="model"/> (float32 master weights on any real device): inputs
    /// <see cref="InputIds"/>, the attention mask and the KV cache's past keys and values, outputs <see cref="Logits"/> and the present ones.
    /// </summary>
    /// <exception cref="OnnxExportException">A parameter or a layer's cache is left out of the graph, or the precision cannot store a matrix of the model.</exception>
    public static OnnxGraph Build(TokenformerModel model, OnnxPrecision precision = OnnxPrecision.Fp32, int blockSize = 32)
    {
        model.RequireMasterWeights("exported");
        var stage = model.Stage;
        if (!Enum.IsDefined(precision))
            throw new OnnxExportException($"unknown weight precision {precision}; an export stores {string.Join(", ", OnnxQuantizer.Names)}");
        if (precision == OnnxPrecision.Int4 && (blockSize is < 16 or > 256 || (blockSize & (blockSize - 1)) != 0))
            throw new OnnxExportException($"int4 block {blockSize}: MatMulNBits takes a power of two from 16 to 256");
        if (model.Device.type == DeviceType.META)
            throw new OnnxExportException($"{stage.QualifiedName} is on the meta device, which holds shapes but no weights to export");
        var a = stage.Architecture;
        var graph = new OnnxGraph($"{stage.Family}_{stage.Name}", model.NamedParameters(), precision, blockSize);
        var tokens = graph.Input(InputIds, OnnxType.Int64, OnnxKvCache.Batch, OnnxKvCache.Sequence);
        var cache = new OnnxKvCache(tokens, (int)a.Layers, a.Heads, a.HeadDim, a.Context);
        graph.Output(model.ToOnnx(tokens, cache), Logits, OnnxType.Float, OnnxKvCache.Batch, OnnxKvCache.Sequence, a.PaddedVocabulary);

        var unused = graph.UnusedParameters.ToList();
        if (unused.Count > 0)
            throw new OnnxExportException($"{stage.QualifiedName}: the ONNX graph leaves out {string.Join(", ", unused)}, so it would not compute the model");
        var uncached = cache.LayersWithoutPresent.ToList();
        if (uncached.Count > 0)
            throw new OnnxExportException($"{stage.QualifiedName}: the ONNX graph has no attention cache output for layer(s) {string.Join(", ", uncached)}");
        return graph;
    }

    private static OnnxModelCard CardFor(StageInfo stage, OnnxExportOptions options, bool external)
    {
        var a = stage.Architecture;
        return new OnnxModelCard(
            stage.Family, stage.Name, stage.SpecHash, options.TrainingStep,
            ModelFile, external ? ExternalDataFile : null, Opset,
            OnnxModelCard.TokenizerName(a.Tokenizer), options.TokenizerFile is null ? null : TokenizerFileName, a.Vocabulary, a.PaddedVocabulary,
            a.Context, (int)a.Layers, a.Heads, a.HeadDim, a.Hidden,
            InputIds, OnnxKvCache.PastKeyPattern, OnnxKvCache.PastValuePattern,
            Logits, OnnxKvCache.PresentKeyPattern, OnnxKvCache.PresentValuePattern);
    }
}
