using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>A <c>[m, k] · [k, n]</c> matrix product (float32 unless told), timed as GFLOP/s (2·m·k·n FLOPs).</summary>
internal sealed class MatmulProbe : IDisposable
{
    private readonly Tensor _a;
    private readonly Tensor _b;
    private int _calls = 1;

    public MatmulProbe(string label, long m, long k, long n, ScalarType dtype = ScalarType.Float32)
    {
        (Label, M, K, N, DType) = (label, m, k, n, dtype);
        using var generator = new Generator(42);
        using var a = randn([m, k], generator: generator);
        using var b = randn([k, n], generator: generator);
        _a = a.to(dtype);
        _b = b.to(dtype);
    }

    public ScalarType DType { get; }

    public string Label { get; }

    public long M { get; }

    public long K { get; }

    public long N { get; }

    public double FlopsPerCall => 2.0 * M * K * N;

    public string Shape => $"[{M}×{K}]·[{K}×{N}]";

    /// <summary>Fixes the number of products per sample so that one sample takes about <paramref name="seconds"/>.</summary>
    public void Calibrate(double seconds)
    {
        Once();
        _calls = Timing.CallsFor(Once, seconds);
    }

    /// <summary>One sample: GFLOP/s over the calibrated number of products.</summary>
    public double Sample()
    {
        var seconds = Timing.Seconds(() =>
        {
            for (var i = 0; i < _calls; i++) Once();
        });
        return FlopsPerCall * _calls / seconds / 1e9;
    }

    private void Once()
    {
        using var product = mm(_a, _b);
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }
}
