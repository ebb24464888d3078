using System.Text.Json;
using System.Text.Json.Serialization;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Text.Onnx;

/// <summary>
/// What a server needs to know about an exported ONNX model besides the graph: which stage it is, its files, the tokenizer,
/// the context, and the KV-cache inputs and outputs (names with <c>{layer}</c> for the layer index, layout
/// <c>[batch, heads, sequence, head_dim]</c>, float32) and the attention mask. Format 2 added the mask; a format-1 export
/// (no mask input) is refused, to be exported again. Written beside <c>model.onnx</c> as <see cref="FileName"/>.
/// </summary>
/// <param name="Family">The family.</param>
/// <param name="Stage">The stage.</param>
/// <param name="SpecSha256">SHA-256 of the spec the stage was generated from.</param>
/// <param name="TrainingStep">The checkpoint's training step, when the model came from one.</param>
/// <param name="Model">The graph's file name.</param>
/// <param name="ExternalData">The file holding the weights when they are not inside the graph (over 2 GB), else null.</param>
/// <param name="Opset">The ai.onnx operator set the graph uses.</param>
/// <param name="Tokenizer">The family's tokenizer: <c>byte</c>, <c>gpt2</c> or <c>neox</c> (all three ship with TokenformerGen.Text).</param>
/// <param name="TokenizerFile">A Hugging Face <c>tokenizer.json</c> in the folder that replaces the family's tokenizer, or null.</param>
/// <param name="Vocabulary">The family's vocabulary before padding.</param>
/// <param name="PaddedVocabulary">Logits per position (embedding rows).</param>
/// <param name="Context">Positions the graph supports: cached plus new tokens never exceed it.</param>
/// <param name="Layers">Blocks, each with a KV-cache input pair and output pair.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="HeadDim">Dims per head.</param>
/// <param name="Hidden">Model width.</param>
/// <param name="InputIds">Input: token ids <c>[batch, sequence]</c>, int64.</param>
/// <param name="PastKey">Inputs: each layer's cached keys (after rotary).</param>
/// <param name="PastValue">Inputs: each layer's cached values.</param>
/// <param name="Logits">Output: float32 logits <c>[batch, sequence, padded_vocabulary]</c>.</param>
/// <param name="PresentKey">Outputs: each layer's keys with the new positions appended.</param>
/// <param name="PresentValue">Outputs: each layer's values with the new positions appended.</param>
public sealed record OnnxModelCard(
    string Family, string Stage, string SpecSha256, long? TrainingStep,
    string Model, string? ExternalData, int Opset,
    string Tokenizer, string? TokenizerFile, long Vocabulary, long PaddedVocabulary,
    long Context, int Layers, long Heads, long HeadDim, long Hidden,
    string InputIds, string PastKey, string PastValue, string Logits, string PresentKey, string PresentValue)
{
    /// <summary>The card's file name in an export folder.</summary>
    public const string FileName = "tokenformer-onnx.json";

    /// <summary>The <see cref="Format"/> this version writes and reads.</summary>
    public const string CurrentFormat = "tokenformer-onnx/2";

    /// <summary>Identifies the card's schema.</summary>
    [JsonPropertyOrder(-1)]
    public string Format { get; init; } = CurrentFormat;

    /// <summary>How the KV cache is laid out.</summary>
    public string KvCacheLayout { get; init; } = "[batch, heads, sequence, head_dim] float32";

    /// <summary>
    /// Input: int64 <c>[batch, past + sequence]</c>, 1 for each real token of a row (cached and new) and 0 for padding, from
    /// which the graph takes positions (real tokens before) and which keys a token may see.
    /// </summary>
    public string AttentionMask { get; init; } = "attention_mask";

    /// <summary>How the matrices of every Pattention and of the embedding are stored: <c>fp32</c>, <c>int8</c> or <c>int4</c>.</summary>
    public string Weights { get; init; } = "fp32";

    /// <summary>Inputs per scale of an <c>int4</c> export; null otherwise.</summary>
    public int? BlockSize { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    // The card spells tokenizer kinds as specs do.
    private static readonly (TokenizerKind Kind, string Name)[] TokenizerNames =
        [(TokenizerKind.Byte, "byte"), (TokenizerKind.Gpt2, "gpt2"), (TokenizerKind.NeoX, "neox")];

    /// <summary>The card's name of a tokenizer kind.</summary>
    public static string TokenizerName(TokenizerKind kind)
        => TokenizerNames.Single(t => t.Kind == kind).Name;

    /// <summary><see cref="Tokenizer"/> as a kind.</summary>
    /// <exception cref="InvalidDataException">The card names no kind this version knows.</exception>
    [JsonIgnore]
    public TokenizerKind TokenizerKind => KindNamed(Tokenizer) ?? throw new InvalidDataException(UnknownTokenizer(FileName, Tokenizer));

    private static TokenizerKind? KindNamed(string name) => TokenizerNames.Where(t => t.Name == name).Select(t => (TokenizerKind?)t.Kind).FirstOrDefault();

    private static string UnknownTokenizer(string path, string name) => $"{path}: unknown tokenizer '{name}' (byte, gpt2 or neox).";

    /// <summary>A layer's name from one of the per-layer patterns (<see cref="PastKey"/> and the others).</summary>
    public static string ForLayer(string pattern, int layer) => pattern.Replace("{layer}", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>The card as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads the card of the export folder <paramref name="folder"/>.</summary>
    /// <exception cref="InvalidDataException">The card is missing, not JSON of this schema, or of another format version.</exception>
    public static OnnxModelCard Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) throw new InvalidDataException($"'{folder}' holds no {FileName}: it is not a folder written by export --onnx.");
        OnnxModelCard? card;
        try
        {
            card = JsonSerializer.Deserialize<OnnxModelCard>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a model card ({e.Message}).", e);
        }
        if (card is null) throw new InvalidDataException($"{path}: empty model card.");
        if (card.Format != CurrentFormat) throw new InvalidDataException($"{path}: format '{card.Format}', this version reads '{CurrentFormat}'.");
        if (KindNamed(card.Tokenizer) is null) throw new InvalidDataException(UnknownTokenizer(path, card.Tokenizer));
        if (card.Layers < 0 || card.Context <= 0 || card.PaddedVocabulary <= 0 || card.Heads <= 0 || card.HeadDim <= 0)
            throw new InvalidDataException($"{path}: sizes out of range (layers {card.Layers}, context {card.Context}, padded vocabulary {card.PaddedVocabulary}, heads {card.Heads}, head dim {card.HeadDim}).");
        return card;
    }
}
