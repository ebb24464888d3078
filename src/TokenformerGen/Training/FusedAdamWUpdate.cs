using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Training;

/// <summary>The scalars of one AdamW update, the same for every element of every parameter.</summary>
/// <param name="GradientScale">Multiplies the gradient first (the clipping coefficient; 1 when not clipping).</param>
/// <param name="Decay">Multiplies the parameter before the update: <c>1 − lr · weight decay</c> (1 for vectors).</param>
/// <param name="Beta1">β₁.</param>
/// <param name="Beta2">β₂.</param>
/// <param name="OneMinusBeta1">1 − β₁, rounded from double (1 − β₁ in float would round twice).</param>
/// <param name="OneMinusBeta2">1 − β₂, likewise.</param>
/// <param name="SqrtCorrection2">√(1 − β₂ᵗ).</param>
/// <param name="Epsilon">ε.</param>
/// <param name="StepSize">lr / (1 − β₁ᵗ).</param>
internal readonly record struct AdamWScalars(float GradientScale, float Decay, float Beta1, float Beta2, float OneMinusBeta1, float OneMinusBeta2, float SqrtCorrection2, float Epsilon, float StepSize);

/// <summary>
/// AdamW's update of one float32 parameter on the CPU in a single pass: it reads the parameter, its gradient and both
/// moments once and writes the parameter and moments once. Composed of tensor operations, the same update makes nine
/// passes over tensors of the parameter's size (and allocates two): on the 150M shape that was a fifth of a training
/// step at 128 tokens (docs/benchmarks.md, figure 11). Elements are independent, so the result does not depend on how
/// the work is split between threads.
/// </summary>
internal static class FusedAdamWUpdate
{
    // Below this many elements a tensor is updated on the calling thread; above, in chunks of it across the threads.
    private const long Chunk = 1 << 16;

    /// <summary>Whether the fused update can run: all four tensors float32, contiguous and on the CPU.</summary>
    public static bool Applies(Tensor parameter, Tensor gradient, Tensor expAvg, Tensor expAvgSq)
        => new[] { parameter, gradient, expAvg, expAvgSq }.All(t => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous());

    /// <summary>Updates <paramref name="parameter"/> and both moments in place from <paramref name="gradient"/>.</summary>
    public static unsafe void Apply(Tensor parameter, Tensor gradient, Tensor expAvg, Tensor expAvgSq, AdamWScalars s)
    {
        var count = parameter.numel();
        nint p = Elements(parameter), g = Elements(gradient), m = Elements(expAvg), v = Elements(expAvgSq);
        if (count <= Chunk)
        {
            Update((float*)p, (float*)g, (float*)m, (float*)v, count, s);
            return;
        }
        var chunks = (int)((count + Chunk - 1) / Chunk);
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
        Parallel.For(0, chunks, options, i =>
        {
            var start = i * Chunk;
            Update((float*)p + start, (float*)g + start, (float*)m + start, (float*)v + start, Math.Min(Chunk, count - start), s);
        });
    }

    // The first element of a contiguous float32 CPU tensor (its storage may begin earlier, as a view's does).
    private static unsafe nint Elements(Tensor tensor)
    {
        using var storage = tensor.storage<float>();
        return (nint)((float*)storage.data_ptr() + tensor.storage_offset());
    }

    // m = β₁m + (1 − β₁)g', v = β₂v + (1 − β₂)g'², p = p·decay − stepSize · m / (√v / √(1 − β₂ᵗ) + ε), with g' = g · scale.
    private static unsafe void Update(float* p, float* g, float* m, float* v, long count, AdamWScalars s)
    {
        var (oneMinusBeta1, oneMinusBeta2) = (s.OneMinusBeta1, s.OneMinusBeta2);
        long i = 0;
        var width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var (scale, decay, beta1, beta2) = (new Vector<float>(s.GradientScale), new Vector<float>(s.Decay), new Vector<float>(s.Beta1), new Vector<float>(s.Beta2));
            var (rest1, rest2, correction, epsilon, step) = (new Vector<float>(oneMinusBeta1), new Vector<float>(oneMinusBeta2), new Vector<float>(s.SqrtCorrection2),
                                                             new Vector<float>(s.Epsilon), new Vector<float>(s.StepSize));
            for (; i + width <= count; i += width)
            {
                var gradient = Vector.Load(g + i) * scale;
                var first = Vector.Load(m + i) * beta1 + gradient * rest1;
                var second = Vector.Load(v + i) * beta2 + gradient * gradient * rest2;
                var denominator = Vector.SquareRoot(second) / correction + epsilon;
                var parameter = Vector.Load(p + i) * decay - step * (first / denominator);
                first.Store(m + i);
                second.Store(v + i);
                parameter.Store(p + i);
            }
        }
        for (; i < count; i++)
        {
            var gradient = g[i] * s.GradientScale;
            var first = m[i] * s.Beta1 + gradient * oneMinusBeta1;
            var second = v[i] * s.Beta2 + gradient * gradient * oneMinusBeta2;
            var denominator = MathF.Sqrt(second) / s.SqrtCorrection2 + s.Epsilon;
            m[i] = first;
            v[i] = second;
            p[i] = p[i] * s.Decay - s.StepSize * (first / denominator);
        }
    }
}
