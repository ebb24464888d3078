using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// Raw little-endian tensor bytes between a stream and a CPU tensor, in bounded chunks so no
/// intermediate copy of a whole tensor is ever made (and tensors above 2 GB work).
/// </summary>
internal static class TensorBytes
{
    /// <summary>Bytes per chunk; lowered by tests to exercise the chunking.</summary>
    internal static int ChunkBytes { get; set; } = 16 << 20;

    static TensorBytes()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Checkpoint files are little-endian; big-endian hosts are not supported.");
    }

    /// <summary>Reads exactly the bytes of a new CPU tensor of the given dtype and shape.</summary>
    public static Tensor Read(Stream stream, ScalarType dtype, long[] shape, string path, string name)
    {
        var tensor = empty(shape, dtype, CPU);
        try
        {
            ForEachChunk(tensor, span =>
            {
                if (stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false) < span.Length)
                    throw new CheckpointFormatException(path, name, "the file ended inside the tensor's data (truncated).");
            });
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Writes the raw bytes of <paramref name="tensor"/> (any device, any layout).</summary>
    public static void Write(Stream stream, Tensor tensor)
    {
        using var source = ContiguousCpu(tensor);
        ForEachChunk(source, span => stream.Write(span));
    }

    /// <summary>The raw bytes of a tensor as an array (for tests and small tensors).</summary>
    public static byte[] ToArray(Tensor tensor)
    {
        using var ms = new MemoryStream();
        Write(ms, tensor);
        return ms.ToArray();
    }

    /// <summary>A new handle on a contiguous CPU copy or alias of <paramref name="tensor"/>; never the same object.</summary>
    public static Tensor ContiguousCpu(Tensor tensor)
    {
        var current = tensor.detach();
        if (current.device_type != DeviceType.CPU)
        {
            var moved = current.to(CPU);
            current.Dispose();
            current = moved;
        }
        if (!current.is_contiguous())
        {
            var packed = current.contiguous();
            current.Dispose();
            current = packed;
        }
        return current;
    }

    private delegate void SpanAction(Span<byte> span);

    // Visits the storage of a contiguous CPU tensor in chunks of at most ChunkBytes.
    private static void ForEachChunk(Tensor contiguousCpu, SpanAction action)
    {
        if (contiguousCpu.NumberOfElements == 0) return;
        using var flat = contiguousCpu.view(-1);
        var items = flat.shape[0];
        var perChunk = Math.Max(1L, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < items; start += perChunk)
        {
            using var slice = flat.narrow(0, start, Math.Min(perChunk, items - start));
            action(slice.bytes);
        }
    }
}
