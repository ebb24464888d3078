using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace TokenformerGen.Growth;

/// <summary>
/// Draws the random rows a growth appends. Every path draws them here the same way — on the CPU in float32,
/// from a generator of its own per tensor (seeded by the growth seed and the tensor's name), in chunks of a
/// fixed number of rows — so in-memory growth on any device and streamed checkpoint growth get bit-identical
/// values from the same seed, whatever order tensors are visited in.
/// </summary>
public static class NewRowDraws
{
    /// <summary>Elements per chunk (4 MB of float32): the chunk buffer is all the memory a draw needs.</summary>
    public const long ChunkElements = 1 << 20;

    /// <summary>Rows per chunk for rows of <paramref name="rowElements"/> elements (at least one).</summary>
    public static long RowsPerChunk(long rowElements) => Math.Max(1, ChunkElements / Math.Max(1, rowElements));

    /// <summary>A per-tensor seed: FNV-1a of the name mixed with <paramref name="seed"/>.</summary>
    public static ulong SeedFor(string name, long seed)
    {
        var hash = 14695981039346656037UL ^ (ulong)seed;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(name)) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>
    /// Draws <paramref name="rows"/> rows of <paramref name="rowElements"/> elements from N(0, <paramref name="std"/>²)
    /// for the tensor <paramref name="name"/>, chunk by chunk: <paramref name="visit"/> gets the index of the
    /// chunk's first row (0 = the first appended row) and a CPU float32 <c>[k, rowElements]</c> tensor that is
    /// reused for the next chunk, so it is valid only during the call.
    /// </summary>
    public static void ForEachChunk(string name, long rows, long rowElements, double std, long seed, Action<long, Tensor> visit)
    {
        if (rows <= 0) return;
        var perChunk = Math.Min(rows, RowsPerChunk(rowElements));
        using var _ = no_grad();
        using var generator = new Generator(SeedFor(name, seed));
        using var buffer = empty(perChunk, rowElements, float32, CPU);
        for (long first = 0; first < rows; first += perChunk)
        {
            using var chunk = buffer.narrow(0, 0, Math.Min(perChunk, rows - first));
            chunk.normal_(0, std, generator);
            visit(first, chunk);
        }
    }
}

/// <summary>
/// Draws the new rows of a sequence of tensors on a background thread, a few chunks ahead of the caller, so
/// that drawing overlaps with what the caller does with the bytes (writing a checkpoint). The values are those
/// of <see cref="NewRowDraws.ForEachChunk"/>; memory is a fixed number of chunk buffers.
/// </summary>
internal sealed class DrawAhead : IDisposable
{
    /// <summary>One tensor whose appended rows are drawn.</summary>
    public sealed record Tensor(string Name, long Rows, long RowElements, double Std, ScalarType DType);

    private sealed record Piece(string Name, byte[]? Bytes, int Length);

    private readonly BlockingCollection<byte[]> _free = new();
    private readonly BlockingCollection<Piece> _ready = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;

    /// <summary>Starts drawing <paramref name="tensors"/> in order, at most <paramref name="depth"/> chunks ahead.</summary>
    public DrawAhead(IReadOnlyList<Tensor> tensors, long seed, int depth = 3)
    {
        // Room for the largest chunk of any of the tensors, in its stored dtype.
        var bytes = tensors.Select(t => Math.Min(t.Rows, NewRowDraws.RowsPerChunk(t.RowElements)) * t.RowElements * Checkpoints.SafeTensorsDType.ItemSize(t.DType)).DefaultIfEmpty(0).Max();
        for (var i = 0; i < depth; i++) _free.Add(new byte[checked((int)bytes)]);
        _producer = Task.Factory.StartNew(() => Produce(tensors, seed), _stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Visits the bytes of the next tensor's rows, chunk by chunk; tensors must be asked for in the order given.</summary>
    public void ForEachChunk(string name, Action<ReadOnlySpan<byte>> visit)
    {
        while (true)
        {
            Piece piece;
            if (!_ready.TryTake(out piece!, Timeout.Infinite, _stop.Token))
            {
                _producer.GetAwaiter().GetResult();   // the producer stopped: rethrow its failure, if that is why
                throw new InvalidOperationException($"No new rows were drawn for '{name}'.");
            }
            if (piece.Name != name) throw new InvalidOperationException($"New rows of '{piece.Name}' were drawn where '{name}' was expected.");
            if (piece.Bytes is null) return;
            visit(piece.Bytes.AsSpan(0, piece.Length));
            _free.Add(piece.Bytes);
        }
    }

    private void Produce(IReadOnlyList<Tensor> tensors, long seed)
    {
        try
        {
            foreach (var t in tensors)
            {
                NewRowDraws.ForEachChunk(t.Name, t.Rows, t.RowElements, t.Std, seed, (_, chunk) =>
                {
                    using var converted = chunk.dtype == t.DType ? null : chunk.to(t.DType);
                    var source = (converted ?? chunk).bytes;
                    var buffer = _free.Take(_stop.Token);
                    source.CopyTo(buffer);
                    _ready.Add(new Piece(t.Name, buffer, source.Length));
                });
                _ready.Add(new Piece(t.Name, null, 0));
            }
        }
        finally
        {
            _ready.CompleteAdding();   // a consumer waiting after a failure sees the fault instead of waiting forever
        }
    }

    /// <summary>Stops drawing and waits for the background thread.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _producer.Wait();
        }
        catch (AggregateException)
        {
            // Cancelled or failed: a failure the caller needed was already rethrown by ForEachChunk.
        }
        _stop.Dispose();
        _free.Dispose();
        _ready.Dispose();
    }
}
