// Shared verbatim with the source generator (linked into generators/), so the constants it folds
// into generated code and the numbers the runtime reports come from one formula.
// Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Architecture
{
    /// <summary>
    /// Parameter counts and compute of a model of either block kind, as functions of its architecture. A block's size is
    /// its weights: every weight multiplies once per token, so a block's forward costs two FLOPs a weight plus attention.
    /// </summary>
    public static class ModelSize
    {
        /// <summary>
        /// Weights of one Tokenformer block: the q, k, v and output Pattentions and the FFN Pattention, key and value
        /// tokens each (<c>2·d·n</c> a Pattention): 16·d² at qkv = proj = d and ffn = 4d.
        /// </summary>
        public static long TokenformerBlockParameters(long hidden, long qkvTokens, long projTokens, long ffnTokens)
            => 3 * PattentionParameters(hidden, qkvTokens, hidden)
               + PattentionParameters(hidden, projTokens, hidden)
               + PattentionParameters(hidden, ffnTokens, hidden);

        /// <summary>
        /// Weights of one Transformer block: bias-free q, k, v and output projections (<c>d²</c> each) and the MLP
        /// (<c>2·d·mlpHidden</c>): 12·d² with a 4d MLP, 16·d² (a Tokenformer block's) with a 6d one.
        /// </summary>
        public static long TransformerBlockParameters(long hidden, long mlpHidden)
            => 4 * hidden * hidden + 2 * hidden * mlpHidden;

        /// <summary>
        /// Trainable parameters: the tied embedding <c>[vocab, d]</c>, <paramref name="layers"/> blocks of
        /// <paramref name="blockParameters"/> and the affine final LayerNorm (<c>2·d</c>). Matches the released models
        /// exactly (150M: 151,881,216).
        /// </summary>
        public static long Parameters(long vocab, long layers, long hidden, long blockParameters)
            => vocab * hidden + layers * blockParameters + 2 * hidden;

        /// <summary>Parameters of a Tokenformer (<see cref="TokenformerBlockParameters"/> a block).</summary>
        public static long Parameters(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens)
            => Parameters(vocab, layers, hidden, TokenformerBlockParameters(hidden, qkvTokens, projTokens, ffnTokens));

        /// <summary>Key tokens <c>[n, d_in]</c> plus value tokens <c>[n, d_out]</c>.</summary>
        public static long PattentionParameters(long inputDim, long tokens, long outputDim)
            => tokens * (inputDim + outputDim);

        /// <summary>Forward FLOPs per token of one Pattention: <c>2·d_in·n + 2·n·d_out</c>.</summary>
        public static long PattentionForwardFlops(long inputDim, long tokens, long outputDim)
            => 2 * PattentionParameters(inputDim, tokens, outputDim);

        /// <summary>
        /// Forward FLOPs per token at context length <paramref name="context"/>: two a block weight (Pattention or
        /// linear), the attention scores and weighted sum (<c>4·d·T</c> per layer, counted without the causal half, as
        /// PaLM's MFU accounting does) and the tied LM head (<c>2·d·vocab</c>). Norms, GeLU and softmax are elementwise
        /// and left out.
        /// </summary>
        public static long ForwardFlopsPerToken(long vocab, long layers, long hidden, long blockParameters, long context)
            => layers * (2 * blockParameters + 4 * hidden * context) + 2 * hidden * vocab;

        /// <summary>Forward FLOPs per token of a Tokenformer.</summary>
        public static long ForwardFlopsPerToken(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens, long context)
            => ForwardFlopsPerToken(vocab, layers, hidden, TokenformerBlockParameters(hidden, qkvTokens, projTokens, ffnTokens), context);

        /// <summary>Training FLOPs per token: forward plus a backward pass of twice its cost.</summary>
        public static long TrainingFlopsPerToken(long vocab, long layers, long hidden, long blockParameters, long context)
            => 3 * ForwardFlopsPerToken(vocab, layers, hidden, blockParameters, context);

        /// <summary>Training FLOPs per token of a Tokenformer.</summary>
        public static long TrainingFlopsPerToken(long vocab, long layers, long hidden, long qkvTokens, long projTokens, long ffnTokens, long context)
            => 3 * ForwardFlopsPerToken(vocab, layers, hidden, qkvTokens, projTokens, ffnTokens, context);

        /// <summary>Vocabulary rounded up to a multiple (GPT-NeoX pads 50277 to 50304 with 128).</summary>
        public static long PaddedVocabulary(long vocab, long multiple)
            => multiple <= 1 ? vocab : (vocab + multiple - 1) / multiple * multiple;
    }
}
