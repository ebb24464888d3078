namespace TokenformerGen.Tests.Reference;

/// <summary>Moves data between TorchSharp tensors and the float64 arrays of <see cref="Float64Reference"/>.</summary>
public static class TensorArrays
{
    public static double[][] ToMatrix(Tensor t)
    {
        var rows = t.shape[0];
        var cols = t.shape[1];
        var flat = t.detach().to(float64).contiguous().data<double>().ToArray();
        return Enumerable.Range(0, (int)rows).Select(r => flat.AsSpan((int)(r * cols), (int)cols).ToArray()).ToArray();
    }

    public static Tensor FromMatrix(double[][] m, ScalarType dtype = ScalarType.Float32)
        => tensor(m.SelectMany(r => r).ToArray(), [m.Length, m[0].Length]).to(dtype);

    /// <summary>A seeded random matrix (uniform in ±scale), independent of TorchSharp's generators.</summary>
    public static double[][] Random(int rows, int cols, int seed, double scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => (random.NextDouble() * 2 - 1) * scale).ToArray()).ToArray();
    }

    /// <summary>max |actual − expected| / max |expected|: a relative error that ignores near-zero entries' noise.</summary>
    public static double RelativeError(double[][] actual, double[][] expected)
    {
        var scale = expected.SelectMany(r => r).Max(Math.Abs);
        var diff = actual.SelectMany(r => r).Zip(expected.SelectMany(r => r), (a, e) => Math.Abs(a - e)).Max();
        return diff / scale;
    }

    public static double MaxAbsDifference(Tensor a, Tensor b) => (a - b).abs().max().to(float64).item<double>();
}
