using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.Serving.Tests.Infrastructure;

/// <summary>
/// The real decoder behind gates the test opens: every start of prompts and every step waits for a permit, so a test can fill
/// the queue, or let a client leave, at a point it chooses. With <see cref="Open"/> it runs freely.
/// </summary>
internal sealed class GatedDecoder(IBatchDecoder inner) : IBatchDecoder
{
    private readonly SemaphoreSlim _permits = new(0);
    private volatile bool _open;

    public int Context => inner.Context;

    public int Logits => inner.Logits;

    /// <summary>Lets <paramref name="count"/> more calls through.</summary>
    public void Release(int count = 1) => _permits.Release(count);

    /// <summary>Lets every call through from now on.</summary>
    public void Open()
    {
        _open = true;
        _permits.Release(1000);
    }

    public IReadOnlyList<(IDecoderRow Row, float[] Logits)> Start(IReadOnlyList<IReadOnlyList<long>> prompts)
    {
        Wait();
        return inner.Start(prompts);
    }

    public float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens)
    {
        Wait();
        return inner.Step(rows, tokens);
    }

    private void Wait()
    {
        if (!_open && !_permits.Wait(TimeSpan.FromMinutes(2))) throw new TimeoutException("the test never let the decoder on");
    }

    public void Dispose()
    {
        inner.Dispose();
        _permits.Dispose();
    }
}
