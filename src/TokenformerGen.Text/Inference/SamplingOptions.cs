namespace TokenformerGen.Text.Inference;

/// <summary>How to pick each next token.</summary>
/// <param name="Temperature">Softmax temperature; 0 picks the most likely token.</param>
/// <param name="TopK">Sample among the k most likely tokens only (0 = all).</param>
/// <param name="Seed">Seed of the sampling generator.</param>
/// <param name="UseCache">Reuse keys and values of earlier positions (a KV cache) instead of re-running the whole prefix.</param>
/// <param name="Vocabulary">Only ids below this are sampled (the tokenizer's vocabulary; the rest is padding).</param>
public sealed record SamplingOptions(double Temperature = 0.8, int TopK = 40, long Seed = 1, bool UseCache = true, long? Vocabulary = null);
