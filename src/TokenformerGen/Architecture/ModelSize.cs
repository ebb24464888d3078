// Shared verbatim with the source generator (linked into generators/), so the constants it folds
// into generated code and the numbers the runtime reports come from one formula.
// Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Architecture
{
    /// <summary>Parameter counts and compute of a Tokenformer, as functions of its architecture.</summary>
    public static class ModelSize
    {
        /// <summary>
        /// Trainable parameters: the tied embedding <c>[vocab, d]</c>, per layer the q, k, v and
        /// output Pattentions (key and value tokens, <c>2·d·n</c> each) and the FFN Pattention, and
        /// the affine final LayerNorm (<c>2·d</c>). Matches the released models exactly
        /// (150M: 151,881,216).
        /// </summary>
        public static long Parameters(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens)
            => vocab * hidden
               + layers * (3 * PattentionParameters(hidden, qkvTokens, hidden)
                           + PattentionParameters(hidden, projTokens, hidden)
                           + PattentionParameters(hidden, ffnTokens, hidden))
               + 2 * hidden;

        /// <summary>Key tokens <c>[n, d_in]</c> plus value tokens <c>[n, d_out]</c>.</summary>
        public static long PattentionParameters(long inputDim, long tokens, long outputDim)
            => tokens * (inputDim + outputDim);

        /// <summary>Forward FLOPs per token of one Pattention: <c>2·d_in·n + 2·n·d_out</c>.</summary>
        public static long PattentionForwardFlops(long inputDim, long tokens, long outputDim)
            => 2 * tokens * (inputDim + outputDim);

        /// <summary>
        /// Forward FLOPs per token at context length <paramref name="context"/>: every Pattention,
        /// the attention scores and weighted sum (<c>4·d·T</c> per layer, counted without the causal
        /// half, as PaLM's MFU accounting does) and the tied LM head (<c>2·d·vocab</c>).
        /// Norms, GeLU and softmax are elementwise and left out.
        /// </summary>
        public static long ForwardFlopsPerToken(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens, long context)
            => layers * (3 * PattentionForwardFlops(hidden, qkvTokens, hidden)
                         + PattentionForwardFlops(hidden, projTokens, hidden)
                         + PattentionForwardFlops(hidden, ffnTokens, hidden)
                         + 4 * hidden * context)
               + 2 * hidden * vocab;

        /// <summary>Training FLOPs per token: forward plus a backward pass of twice its cost.</summary>
        public static long TrainingFlopsPerToken(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens, long context)
            => 3 * ForwardFlopsPerToken(vocab, layers, hidden, qkvTokens, projTokens, ffnTokens, context);

        /// <summary>Vocabulary rounded up to a multiple (GPT-NeoX pads 50277 to 50304 with 128).</summary>
        public static long PaddedVocabulary(long vocab, long multiple)
            => multiple <= 1 ? vocab : (vocab + multiple - 1) / multiple * multiple;
    }
}
