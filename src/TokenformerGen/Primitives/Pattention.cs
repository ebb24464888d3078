using TokenformerGen.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// Parameter attention: <c>Pattention(X) = Θ(X·Kᵀ)·V</c>, attention from input tokens
/// <c>X [.., d_in]</c> to <c>n</c> learnable key tokens <c>K [n, d_in]</c> and value tokens
/// <c>V [n, d_out]</c>. It replaces every linear projection of a Transformer. No bias, no dropout.
/// </summary>
/// <remarks>
/// State-dict names are those of the official release: <c>key_param_tokens</c> and
/// <c>value_param_tokens</c>. The module is created empty (zeros); initialise it with
/// <see cref="Initializers"/> or load weights. Parameters keep their type (a model's float32 master weights); the forward casts them and
/// its input to <see cref="MixedPrecisionProjection.ComputeType"/>, so in bfloat16 the matmuls and Θ run in bfloat16 while the gradients reach
/// the parameters in float32.
/// </remarks>
public sealed class Pattention : MixedPrecisionProjection
{
    private readonly Parameter key_param_tokens;
    private readonly Parameter value_param_tokens;

    /// <summary>Creates a Pattention with <paramref name="tokenCount"/> parameter tokens.</summary>
    /// <param name="inputDim">d_in, the width of the input tokens.</param>
    /// <param name="tokenCount">n, the number of key/value parameter tokens.</param>
    /// <param name="outputDim">d_out, the width of the output.</param>
    /// <param name="norm">Θ, the score normalisation.</param>
    /// <param name="tauPolicy">τ: √n for <see cref="TauPolicy.SqrtN"/>; for
    /// <see cref="TauPolicy.Fixed"/>, the value given by <paramref name="fixedTau"/>
    /// (√n when omitted).</param>
    /// <param name="fixedTau">The stored τ of a <see cref="TauPolicy.Fixed"/> Pattention.</param>
    /// <param name="epsilon">Added under the square root of ‖·‖₂; 0 (off) like the official code,
    /// where an all-zero score row yields NaN.</param>
    /// <param name="name">The module name.</param>
    public Pattention(long inputDim, long tokenCount, long outputDim,
                      PattentionNorm norm = PattentionNorm.L2NormGelu,
                      TauPolicy tauPolicy = TauPolicy.SqrtN,
                      double? fixedTau = null,
                      double epsilon = 0,
                      string name = nameof(Pattention)) : base(name, inputDim, outputDim)
    {
        if (inputDim <= 0 || tokenCount <= 0 || outputDim <= 0)
            throw new ArgumentOutOfRangeException(nameof(tokenCount), $"Pattention sizes must be positive (d_in {inputDim}, n {tokenCount}, d_out {outputDim}).");
        if (tauPolicy == TauPolicy.SqrtN && fixedTau is not null)
            throw new ArgumentException("A fixed τ needs TauPolicy.Fixed.", nameof(fixedTau));
        if (fixedTau is <= 0 || epsilon < 0)
            throw new ArgumentOutOfRangeException(nameof(fixedTau), "τ must be positive and ε non-negative.");

        TokenCount = tokenCount;
        Norm = norm;
        TauPolicy = tauPolicy;
        Tau = tauPolicy == TauPolicy.Fixed ? fixedTau ?? OwnTau : OwnTau;
        Epsilon = epsilon;
        key_param_tokens = nn.Parameter(zeros(tokenCount, inputDim));
        value_param_tokens = nn.Parameter(zeros(tokenCount, outputDim));
        RegisterComponents();
    }

    /// <summary>n, the number of parameter tokens.</summary>
    public long TokenCount { get; }

    /// <summary>Θ.</summary>
    public PattentionNorm Norm { get; }

    /// <summary>How τ was chosen.</summary>
    public TauPolicy TauPolicy { get; }

    /// <summary>τ, the scale after the L2 normalisation.</summary>
    public double Tau { get; private set; }

    /// <summary>Sets τ to √n of this module's own count, as <see cref="TauPolicy.SqrtN"/> has it (see <see cref="Modules.TokenformerModel.UseOwnTau"/>).</summary>
    internal void UseOwnTau() => Tau = OwnTau;

    // √n: the official τ, and a fixed τ's default.
    private double OwnTau => Math.Sqrt(TokenCount);

    /// <summary>ε under the square root of the L2 norm (0 = off).</summary>
    public double Epsilon { get; }

    /// <summary>Key parameter tokens <c>K [n, d_in]</c>.</summary>
    public Parameter Keys => key_param_tokens;

    /// <summary>Value parameter tokens <c>V [n, d_out]</c>.</summary>
    public Parameter Values => value_param_tokens;

    /// <inheritdoc/>
    protected override ScalarType WeightType => key_param_tokens.dtype;

    /// <summary>Maps <c>[.., d_in]</c> to <c>[.., d_out]</c> in <see cref="MixedPrecisionProjection.ComputeType"/>.</summary>
    public override Tensor forward(Tensor input)
    {
        using var x = InComputeType(input);
        using var keys = InComputeType(key_param_tokens);
        using var values = InComputeType(value_param_tokens);
        if (Norm == PattentionNorm.L2NormGelu)
        {
            // The score tensor [.., n] is the largest in the module: scale it in place, and in training
            // let one autograd node own X·Kᵀ and the scaling, so only Θ's input stays alive for backward.
            using var scaled = is_grad_enabled() && (x.requires_grad || keys.requires_grad)
                ? ScaledScoresFunction.apply(x, keys, Tau, Epsilon)
                : ScaledScoresWithoutGradient(x, keys, Tau, Epsilon);
            using var activated = nn.functional.gelu(scaled);
            return matmul(activated, values);
        }
        using var scores = matmul(x, keys.t());
        using var weights = Normalize(scores, Norm, Tau, Epsilon);
        return matmul(weights, values);
    }

    /// <summary>
    /// The forward as ONNX nodes: <c>Θ(X·Kᵀ)·V</c> with the key and value tokens as initializers under their state-dict
    /// names, in the graph's <see cref="OnnxGraph.Precision"/> (quantized along d_in for the keys and along n for the
    /// values; Θ stays float32).
    /// </summary>
    public OnnxValue ToOnnx(OnnxValue input)
    {
        var graph = input.Graph;
        using var scope = graph.ModuleScope(key_param_tokens);
        var scores = graph.MatMulTransposed(input, key_param_tokens);
        return graph.MatMulWeight(Normalize(scores, Norm, Tau, Epsilon, TokenCount), value_param_tokens);
    }

    /// <summary>Θ applied row-wise to scores <c>A [.., n]</c>.</summary>
    public static Tensor Normalize(Tensor scores, PattentionNorm norm, double tau, double epsilon = 0)
    {
        switch (norm)
        {
            case PattentionNorm.L2NormGelu:
            {
                using var scale = L2Scale(scores, tau, epsilon);
                using var scaled = ScaleRows(scores, scale);
                return nn.functional.gelu(scaled);
            }
            case PattentionNorm.GeluL2Norm:
            {
                using var activated = nn.functional.gelu(scores);
                using var scale = L2Scale(activated, tau, epsilon);
                return ScaleRows(activated, scale);
            }
            case PattentionNorm.Softmax:
            {
                using var probabilities = softmax(scores, -1);
                return probabilities * scores.shape[^1];
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(norm), norm, "Unknown Pattention normalisation.");
        }
    }

    /// <summary>Θ applied row-wise to scores <c>A [.., n]</c> of an ONNX graph, as <see cref="Normalize(Tensor, PattentionNorm, double, double)"/> computes it in float32.</summary>
    public static OnnxValue Normalize(OnnxValue scores, PattentionNorm norm, double tau, double epsilon, long tokenCount)
    {
        switch (norm)
        {
            case PattentionNorm.L2NormGelu:
                return (scores * L2Scale(scores, tau, epsilon)).Gelu();
            case PattentionNorm.GeluL2Norm:
            {
                var activated = scores.Gelu();
                return activated * L2Scale(activated, tau, epsilon);
            }
            case PattentionNorm.Softmax:
                return scores.Softmax(-1) * tokenCount;
            default:
                throw new ArgumentOutOfRangeException(nameof(norm), norm, "Unknown Pattention normalisation.");
        }
    }

    private static OnnxValue L2Scale(OnnxValue values, double tau, double epsilon)
        => (epsilon > 0 ? (values.SumOfSquaresLastDim() + (float)epsilon).Sqrt() : values.L2NormLastDim()).Reciprocal() * (float)tau;

    // τ / √(‖row‖₂² + ε), shaped [.., 1], float32 or wider: a norm rounded to bfloat16 would scale a whole row by up
    // to 2⁻⁸ too much or too little. float32 and float64 rows take one pass and no temporary of their size; narrower
    // rows sum their squares in float32 (vector_norm takes no result type in TorchSharp 0.107).
    private static Tensor L2Scale(Tensor values, double tau, double epsilon)
    {
        Tensor norm;
        if (values.dtype is ScalarType.Float32 or ScalarType.Float64)
        {
            norm = linalg.vector_norm(values, 2, [-1], keepdim: true);
        }
        else
        {
            using var squares = values.square();
            norm = squares.sum(-1, keepdim: true, ScalarType.Float32).sqrt_();
        }
        using (norm)
        {
            // Autograd saves the output of rsqrt and reciprocal for their backward (gelu_l2_norm trains through here), so
            // τ scales a copy of it, never the saved tensor in place. The scale is one number per row: the copy is cheap.
            using var inverse = epsilon > 0 ? SquaredPlus(norm, epsilon).rsqrt() : norm.reciprocal();
            return inverse * tau;
        }
    }

    // ‖A‖² + ε (a fresh tensor: adding in place does not touch what the square's backward saved, its input).
    private static Tensor SquaredPlus(Tensor norm, double epsilon)
    {
        using var squared = norm.square();
        return squared.add(epsilon);
    }

    // values · scale row by row, in the values' type (a float32 scale would promote bfloat16 values to float32).
    private static Tensor ScaleRows(Tensor values, Tensor scale)
    {
        var product = values * scale;
        return product.dtype == values.dtype ? product : product.to(values.dtype, disposeAfter: true);
    }

    // A = X·Kᵀ scaled row-wise in place to A / √(‖A‖₂² + ε) · τ (no autograd); returns it and the scale. In place, a
    // float32 scale multiplies bfloat16 scores in float32 and rounds once.
    private static (Tensor Scaled, Tensor Scale) ScaledScores(Tensor input, Tensor keys, double tau, double epsilon)
    {
        var scores = matmul(input, keys.t());
        var scale = L2Scale(scores, tau, epsilon);
        return (scores.mul_(scale), scale);
    }

    private static Tensor ScaledScoresWithoutGradient(Tensor input, Tensor keys, double tau, double epsilon)
    {
        var (scaled, scale) = ScaledScores(input, keys, tau, epsilon);
        scale.Dispose();
        return scaled;
    }

    /// <summary>
    /// <c>Z = A / √(‖A‖₂² + ε) · τ</c> with <c>A = X·Kᵀ</c> as one autograd node. Autograd over the
    /// elementary ops keeps A, its square and the scaled copy alive and makes six passes over them in
    /// backward; this node keeps only Z (which the GeLU after it saves anyway) and computes
    /// <c>dA = r · (dZ − Z · ⟨dZ, Z⟩ / τ²)</c> with <c>r = τ / √(‖A‖² + ε)</c>, the exact derivative,
    /// in four passes with at most one extra score-sized buffer alive.
    /// </summary>
    private sealed class ScaledScoresFunction : autograd.SingleTensorFunction<ScaledScoresFunction>
    {
        public override string Name => "PattentionScaledScores";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, keys, tau, epsilon) = ((Tensor)vars[0], (Tensor)vars[1], (double)vars[2], (double)vars[3]);
            var (scaled, scale) = ScaledScores(input, keys, tau, epsilon);
            ctx.save_for_backward([input, keys, scaled, scale]);
            ctx.save_data("tau", tau);
            ctx.save_data("needs", (input.requires_grad, keys.requires_grad));
            return scaled;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient)
        {
            var saved = ctx.get_saved_variables();
            var (input, keys, scaled, scale) = (saved[0], saved[1], saved[2], saved[3]);
            var tau = (double)ctx.get_data("tau");
            var (inputNeedsGrad, keysNeedGrad) = ((bool, bool))ctx.get_data("needs");
            try
            {
                // dA = (−r·⟨dZ, Z⟩/τ²)·Z + r·dZ: four passes; the product's buffer is freed before dA takes one. The
                // row sums and r are float32 or wider; dA is in the scores' type (the row factor is rounded to it, r is not).
                Tensor coefficient, scoresGradient;
                using (var product = gradient * scaled) coefficient = product.sum(-1, keepdim: true, scale.dtype);
                using (coefficient.mul_(scale).mul_(-1 / (tau * tau)))
                using (var rowFactor = coefficient.to(scaled.dtype)) scoresGradient = scaled * rowFactor;
                using (scoresGradient.addcmul_(gradient, scale, 1))
                {
                    var inputGradient = inputNeedsGrad ? matmul(scoresGradient, keys) : null;
                    Tensor? keysGradient = null;
                    if (keysNeedGrad)
                    {
                        using var flatScores = scoresGradient.reshape(-1, scoresGradient.shape[^1]);
                        using var flatInput = input.reshape(-1, input.shape[^1]);
                        using var transposed = flatScores.t();
                        keysGradient = transposed.mm(flatInput);
                    }
                    return [inputGradient!, keysGradient!, null!, null!];
                }
            }
            finally
            {
                foreach (var t in saved) t.Dispose();
            }
        }
    }
}
