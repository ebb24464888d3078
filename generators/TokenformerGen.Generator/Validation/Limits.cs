namespace TokenformerGen.Generator.Validation;

/// <summary>
/// Largest supported sizes. They are far above any real model and keep every product in the
/// parameter and FLOP formulas inside a 64-bit integer (largest case ≈ 2^57), so a huge number in
/// a spec is a diagnostic, never an overflow.
/// </summary>
internal static class Limits
{
    public const long MaxLayers = 1024;
    public const long MaxHidden = 65536;
    public const long MaxTokens = 16_777_216;
    public const long MaxVocabulary = 16_777_216;
    public const long MaxPadMultiple = 65536;
    public const long MaxContext = 16_777_216;
    public const long MaxBatch = 1_048_576;
    public const long MaxTrainTokens = 1_000_000_000_000_000;
    public const int MaxNameLength = 64;
}
