using System.Globalization;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// What a checkpoint is: model family, growth stage, hash of the model spec, training step and
/// parameter dtype, plus free-form entries. Stored as the safetensors <c>__metadata__</c> string map.
/// </summary>
/// <param name="Family">The model family (e.g. the generated model's name).</param>
/// <param name="Stage">The growth stage within the family.</param>
/// <param name="SpecHash">Hash of the architecture spec the weights belong to.</param>
/// <param name="Step">Training step (optimizer updates) at save time.</param>
public sealed record CheckpointMetadata(string Family, string Stage, string SpecHash, long Step)
{
    /// <summary>The <c>format</c> entry of every checkpoint this library writes.</summary>
    public const string FormatValue = "tokenformer-gen/checkpoint/1";

    /// <summary>Metadata keys owned by this library; <see cref="Extra"/> may not use them.</summary>
    public static readonly IReadOnlyList<string> ReservedKeys = ["format", "kind", "family", "stage", "spec_hash", "step", "dtype", "precision", "checkpoint_id", "tau"];

    /// <summary>The <c>tau</c> entry of a model that computes with √n τ of its own counts (<see cref="OwnTau"/>).</summary>
    public const string OwnTauValue = "own";

    /// <summary>Parameter dtype (safetensors name, e.g. <c>F32</c>, or <c>mixed(...)</c>); filled in on save when null.</summary>
    public string? DType { get; init; }

    /// <summary>
    /// The precision the weights were trained in (<c>fp32</c> or <c>bf16</c>, as <c>--precision</c> spells it): the last
    /// training that wrote them, or for a grown checkpoint its parent's. Null when unknown (imported, or written before
    /// this entry existed). The stored weights are float32 master weights either way.
    /// </summary>
    public string? Precision { get; init; }

    /// <summary>
    /// Whether the weights were trained with √n τ of the stage's own counts instead of the τ the stage borrows (a stage
    /// trained from scratch as a reference, <see cref="Modules.TokenformerModel.UseOwnTau"/>): <c>tau: own</c> in the file.
    /// Set on save from the model; loading such a checkpoint makes the model use its own τ.
    /// </summary>
    public bool OwnTau { get; init; }

    /// <summary>Identifies one save; the model file and its optimizer file share it. Set on save.</summary>
    public string? CheckpointId { get; init; }

    /// <summary>Free-form entries (keys other than <see cref="ReservedKeys"/>).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>The metadata map stored in a file of the given kind (<c>model</c> or <c>optimizer</c>).</summary>
    /// <exception cref="ArgumentException">An extra entry uses a reserved key.</exception>
    public Dictionary<string, string> ToDictionary(string kind)
    {
        var clash = Extra.Keys.Where(ReservedKeys.Contains).ToList();
        if (clash.Count > 0)
            throw new ArgumentException($"Extra metadata may not use the reserved key(s) {string.Join(", ", clash)}.");
        var map = new Dictionary<string, string>(Extra, StringComparer.Ordinal)
        {
            ["format"] = FormatValue,
            ["kind"] = kind,
            ["family"] = Family,
            ["stage"] = Stage,
            ["spec_hash"] = SpecHash,
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
        };
        if (DType is not null) map["dtype"] = DType;
        if (Precision is not null) map["precision"] = Precision;
        if (CheckpointId is not null) map["checkpoint_id"] = CheckpointId;
        if (OwnTau) map["tau"] = OwnTauValue;
        return map;
    }

    /// <summary>Parses the metadata map of a checkpoint file.</summary>
    /// <exception cref="CheckpointFormatException">Not a checkpoint of this library, or a required entry is missing or malformed.</exception>
    public static CheckpointMetadata FromDictionary(IReadOnlyDictionary<string, string> map, string path)
    {
        string Get(string key) => map.TryGetValue(key, out var v)
            ? v
            : throw new CheckpointFormatException(path, null, $"metadata lacks '{key}' (present: {string.Join(", ", map.Keys.Order(StringComparer.Ordinal))}).");

        var format = Get("format");
        if (format != FormatValue)
            throw new CheckpointFormatException(path, null, $"metadata format is '{format}', expected '{FormatValue}'.");
        var stepText = Get("step");
        if (!long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out var step))
            throw new CheckpointFormatException(path, null, $"metadata step '{stepText}' is not a non-negative integer.");
        var tau = map.GetValueOrDefault("tau");
        if (tau is not null && tau != OwnTauValue)
            throw new CheckpointFormatException(path, null, $"metadata tau '{tau}' is not '{OwnTauValue}' (the only value written; a checkpoint without the entry has its stage's declared τ).");
        return new CheckpointMetadata(Get("family"), Get("stage"), Get("spec_hash"), step)
        {
            DType = map.GetValueOrDefault("dtype"),
            Precision = map.GetValueOrDefault("precision"),
            CheckpointId = map.GetValueOrDefault("checkpoint_id"),
            OwnTau = tau is not null,
            Extra = map.Where(kv => !ReservedKeys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// Refuses a checkpoint of another family or stage (and, when given, another spec hash), naming
    /// the expected and the found value of every field that differs.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">Some field differs.</exception>
    public void Require(string path, string family, string stage, string? specHash = null)
    {
        var problems = new List<string>();
        if (Family != family) problems.Add($"family: checkpoint is '{Family}', expected '{family}'.");
        if (Stage != stage) problems.Add($"stage: checkpoint is '{Stage}', expected '{stage}'.");
        if (specHash is not null && SpecHash != specHash) problems.Add($"spec hash: checkpoint is '{SpecHash}', expected '{specHash}'.");
        if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
    }
}
