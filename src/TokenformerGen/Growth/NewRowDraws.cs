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
