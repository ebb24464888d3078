using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// An open safetensors file: the header is read and fully validated on open (sizes, offsets, dtypes,
/// exact coverage of the data region), tensors are read one at a time on demand.
/// </summary>
public sealed class SafeTensorsReader : IDisposable
{
    private readonly Stream _stream;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorInfo> _byName;

    private SafeTensorsReader(string path, Stream stream, SafeTensorsHeader.Parsed header)
    {
        FilePath = path;
        _stream = stream;
        _dataStart = header.DataStart;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid safetensors file.</exception>
    public static SafeTensorsReader Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            return new SafeTensorsReader(path, stream, SafeTensorsHeader.Read(stream, path));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Validates a safetensors image held in a seekable stream; the reader owns the stream and disposes it.</summary>
    /// <param name="stream">A readable, seekable stream holding the whole file.</param>
    /// <param name="displayName">The name used in error messages.</param>
    public static SafeTensorsReader Open(Stream stream, string displayName)
        => new(displayName, stream, SafeTensorsHeader.Read(stream, displayName));

    /// <summary>The file path (or display name).</summary>
    public string FilePath { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor, sorted by name.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>.</summary>
    public bool TryGetInfo(string name, out SafeTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>Reads one tensor into a new CPU tensor of its stored dtype.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public Tensor ReadTensor(string name)
    {
        if (!_byName.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"{FilePath} holds no tensor '{name}'.");
        _stream.Position = _dataStart + info.DataBegin;
        return TensorBytes.Read(_stream, info.DType, info.Shape, FilePath, name);
    }

    /// <summary>
    /// Reads <paramref name="destination"/>.Length raw bytes of the tensor <paramref name="name"/>, starting
    /// <paramref name="offset"/> bytes into its data, into a buffer the caller owns (and may reuse): no tensor is allocated.
    /// </summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range lies outside the tensor's data.</exception>
    /// <exception cref="CheckpointFormatException">The file ends inside the range.</exception>
    public void ReadBytes(string name, long offset, Span<byte> destination)
    {
        if (!_byName.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"{FilePath} holds no tensor '{name}'.");
        if (offset < 0 || offset + destination.Length > info.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Bytes {offset}..{offset + destination.Length} lie outside the {info.ByteLength} bytes of '{name}'.");
        _stream.Position = _dataStart + info.DataBegin + offset;
        if (_stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) < destination.Length)
            throw new CheckpointFormatException(FilePath, name, "the file ended inside the tensor's data (truncated).");
    }

    /// <summary>Reads every tensor (the caller owns and disposes them).</summary>
    public Dictionary<string, Tensor> ReadAll()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var info in Tensors) result[info.Name] = ReadTensor(info.Name);
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _stream.Dispose();
}
