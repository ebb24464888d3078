using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// Whole-file safetensors reading and (atomic) writing. The format: an 8-byte little-endian header
/// length, a JSON header (dtype, shape, data_offsets per tensor; optional <c>__metadata__</c> string
/// map) padded with spaces to 8-byte alignment, then the raw little-endian data, tensors sorted by name.
/// </summary>
public static class SafeTensorsFile
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        AtomicFile.Write(path, stream => Write(stream, list, metadata));
    }

    /// <summary>Writes <paramref name="tensors"/> as a safetensors image to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var byName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
            if (!byName.TryAdd(name, tensor))
                throw new ArgumentException($"Tensor '{name}' is given twice.", nameof(tensors));
        using var writer = new SafeTensorsWriter(stream, byName.Select(kv => TensorSpec.Of(kv.Key, kv.Value)), metadata);
        foreach (var info in writer.Order) writer.Write(info.Name, byName[info.Name]);
        writer.Complete();
    }

    /// <summary>Reads every tensor and the metadata of <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid safetensors file.</exception>
    public static SafeTensorsContent Read(string path)
    {
        using var reader = SafeTensorsReader.Open(path);
        return new SafeTensorsContent(reader.ReadAll(), reader.Metadata);
    }

    /// <summary>Reads only the (validated) header's metadata of <paramref name="path"/>.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var reader = SafeTensorsReader.Open(path);
        return reader.Metadata;
    }
}

/// <summary>The tensors and metadata of a safetensors file; disposing it disposes the tensors.</summary>
/// <param name="Tensors">Name → tensor (CPU, stored dtype).</param>
/// <param name="Metadata">The <c>__metadata__</c> map.</param>
public sealed record SafeTensorsContent(Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) : IDisposable
{
    /// <summary>Disposes every tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
