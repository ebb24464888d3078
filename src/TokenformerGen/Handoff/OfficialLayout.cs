using System.Globalization;
using TokenformerGen.Architecture;
using TokenformerGen.Checkpoints;

namespace TokenformerGen.Handoff;

/// <summary>
/// The name mapping between our state dict and the official Tokenformer <c>pytorch_model.bin</c>
/// (GPT-NeoX <c>sequential</c> layout), for a model of <c>L</c> layers:
/// <list type="table">
/// <item><term><c>word_embeddings.weight</c></term><description><c>sequential.0.word_embeddings.weight</c></description></item>
/// <item><term><c>layers.{i}.attention|mlp...</c></term><description><c>sequential.{i+2}.attention|mlp...</c>, i = 0..L-1</description></item>
/// <item><term><c>final_norm.weight|bias</c></term><description><c>sequential.{L+3}.norm.weight|bias</c></description></item>
/// </list>
/// Nothing else exists in either layout; any other name is refused with a message saying what is allowed.
/// </summary>
public static class OfficialLayout
{
    private const string Embedding = ParameterNames.Embedding;
    private const string OfficialEmbedding = "sequential.0." + ParameterNames.Embedding;
    private const string FinalNorm = ParameterNames.FinalNormModule + ".";
    private const string Sequential = "sequential.";

    /// <summary>The tensor names inside one layer, the same in both layouts.</summary>
    public static readonly IReadOnlyList<string> LayerTensors =
        ParameterNames.BlockPattentions().SelectMany(p => new[] { $"{p.Key}.{ParameterNames.KeyTokens}", $"{p.Key}.{ParameterNames.ValueTokens}" }).ToList();

    private static readonly string[] NormTensors = ["weight", "bias"];

    private const string OurShape = "word_embeddings.weight, layers.{i}.attention.{query,key,value,proj}.{key,value}_param_tokens, layers.{i}.mlp.{key,value}_param_tokens, final_norm.{weight,bias}";

    /// <summary>
    /// Why <paramref name="stage"/> cannot go to or come from the official release (its layout and its GPT-NeoX trainer hold
    /// Pattention blocks only), or null when it can.
    /// </summary>
    public static string? Refusal(Families.StageInfo stage)
        => stage.Architecture.Block == Families.BlockKind.Transformer
            ? $"{stage.QualifiedName} is a Transformer, and the official TokenFormer layout and trainer hold Pattention blocks only (key and value parameter tokens)"
            : null;

    /// <summary>Every tensor name of our layout, in model order.</summary>
    public static IReadOnlyList<string> OurNames(int layers)
    {
        CheckLayers(layers);
        return ParameterNames.All(layers).Select(p => p.Name).ToList();
    }

    /// <summary>Every tensor name of the official layout, in model order.</summary>
    public static IReadOnlyList<string> OfficialNames(int layers) => OurNames(layers).Select(n => ToOfficial(n, layers)).ToList();

    /// <summary>Our name → the official name.</summary>
    /// <exception cref="ArgumentException">Not a name of our layout for <paramref name="layers"/> layers.</exception>
    public static string ToOfficial(string ours, int layers)
        => TryToOfficial(ours, layers, out var official, out var error) ? official : throw new ArgumentException(error, nameof(ours));

    /// <summary>The official name → ours.</summary>
    /// <exception cref="ArgumentException">Not a name of the official layout for <paramref name="layers"/> layers.</exception>
    public static string ToOurs(string official, int layers)
        => TryToOurs(official, layers, out var ours, out var error) ? ours : throw new ArgumentException(error, nameof(official));

    /// <summary>Our name → the official name; on failure, <paramref name="error"/> says why.</summary>
    public static bool TryToOfficial(string ours, int layers, out string official, out string error)
    {
        CheckLayers(layers);
        official = "";
        error = "";
        if (ours == Embedding)
        {
            official = OfficialEmbedding;
            return true;
        }
        if (ours.StartsWith(FinalNorm, StringComparison.Ordinal) && NormTensors.Contains(ours[FinalNorm.Length..]))
        {
            official = $"{Sequential}{layers + 3}.norm.{ours[FinalNorm.Length..]}";
            return true;
        }
        if (SplitIndexed(ours, ParameterNames.LayersModule + ".", out var index, out var rest) && LayerTensors.Contains(rest))
        {
            if (index >= layers)
            {
                error = $"'{ours}': layer {index} does not exist in a {layers}-layer model (layers 0..{layers - 1}).";
                return false;
            }
            official = $"{Sequential}{index + 2}.{rest}";
            return true;
        }
        error = $"'{ours}' is not a Tokenformer tensor name (expected {OurShape}).";
        return false;
    }

    /// <summary>The official name → ours; on failure, <paramref name="error"/> says why.</summary>
    public static bool TryToOurs(string official, int layers, out string ours, out string error)
    {
        CheckLayers(layers);
        ours = "";
        error = "";
        if (official == OfficialEmbedding)
        {
            ours = Embedding;
            return true;
        }
        if (SplitIndexed(official, Sequential, out var index, out var rest))
        {
            if (index == layers + 3 && rest.StartsWith("norm.", StringComparison.Ordinal) && NormTensors.Contains(rest["norm.".Length..]))
            {
                ours = FinalNorm + rest["norm.".Length..];
                return true;
            }
            if (LayerTensors.Contains(rest))
            {
                if (index >= 2 && index < layers + 2)
                {
                    ours = $"{ParameterNames.Layer(index - 2)}.{rest}";
                    return true;
                }
                error = $"'{official}': block index {index} is outside sequential.2..sequential.{layers + 1} of a {layers}-layer model.";
                return false;
            }
        }
        error = $"'{official}' is not in the official {layers}-layer layout (expected {OfficialEmbedding}, " +
                $"sequential.{{2..{layers + 1}}}.attention.{{query,key,value,proj}}.{{key,value}}_param_tokens, " +
                $"sequential.{{2..{layers + 1}}}.mlp.{{key,value}}_param_tokens, sequential.{layers + 3}.norm.{{weight,bias}}).";
        return false;
    }

    // "prefix{n}.rest" with n a canonical non-negative decimal (no sign, no leading zeros).
    private static bool SplitIndexed(string name, string prefix, out int index, out string rest)
    {
        index = 0;
        rest = "";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var dot = name.IndexOf('.', prefix.Length);
        if (dot < 0) return false;
        var digits = name.AsSpan(prefix.Length, dot - prefix.Length);
        if (digits.Length == 0 || (digits.Length > 1 && digits[0] == '0')) return false;
        foreach (var c in digits)
            if (c is < '0' or > '9') return false;
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out index)) return false;
        rest = name[(dot + 1)..];
        return true;
    }

    private static void CheckLayers(int layers)
    {
        if (layers <= 0) throw new ArgumentOutOfRangeException(nameof(layers), layers, "A Tokenformer has at least one layer.");
    }
}
