using static TorchSharp.torch;

namespace TokenformerGen.Devices;

/// <summary>
/// What a model computes in. Parameters (the master weights), gradients, optimizer moments and checkpoints are
/// float32 in every precision; only the work inside the forward and backward passes changes.
/// </summary>
public enum Precision
{
    /// <summary>Everything in float32.</summary>
    Fp32,

    /// <summary>
    /// Mixed precision: every Pattention and the tied head multiply in bfloat16 (parameters cast to bfloat16 inside the
    /// forward); the residual stream, LayerNorms, the Pattention L2 norm's reduction, the attention softmax's accumulation
    /// and the loss stay in float32.
    /// </summary>
    Bf16,
}

/// <summary>The tensor type each precision computes in.</summary>
public static class PrecisionTypes
{
    /// <summary>float32 for <see cref="Precision.Fp32"/>, bfloat16 for <see cref="Precision.Bf16"/>.</summary>
    public static ScalarType ComputeType(this Precision precision) => precision switch
    {
        Precision.Fp32 => ScalarType.Float32,
        Precision.Bf16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
    };

    /// <summary>The spelling of the command line and of messages: <c>fp32</c>, <c>bf16</c>.</summary>
    public static string Name(this Precision precision) => precision.ToString().ToLowerInvariant();
}
