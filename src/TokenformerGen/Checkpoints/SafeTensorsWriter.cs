using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// Writes a safetensors file tensor by tensor when the names, dtypes and shapes are known up front:
/// the header is written at construction, then each tensor's bytes in <see cref="Order"/> (sorted by
/// name), whole (<see cref="Write"/>) or in pieces of any size (<see cref="WriteBytes"/>). At most one
/// tensor, or one piece of one, needs to be in memory at a time, so checkpoints can be streamed.
/// </summary>
public sealed class SafeTensorsWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private int _next;
    private long _writtenOfNext;   // bytes of the next tensor already written by WriteBytes

    /// <summary>Writes the header for <paramref name="tensors"/> to <paramref name="stream"/>.</summary>
    /// <param name="stream">Destination, positioned where the file starts.</param>
    /// <param name="tensors">Every tensor the file will hold (any order; the file is sorted by name).</param>
    /// <param name="metadata">The <c>__metadata__</c> string map, or null.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when the writer is disposed.</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name, a negative dimension.</exception>
    /// <exception cref="NotSupportedException">A dtype safetensors cannot hold here.</exception>
    public SafeTensorsWriter(Stream stream, IEnumerable<TensorSpec> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool leaveOpen = true)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        var (header, layout) = SafeTensorsHeader.Build(SafeTensorsHeader.SortAndCheck(tensors), metadata);
        Order = layout;
        _stream.Write(header);
    }

    /// <summary>The tensors in the order <see cref="Write"/> must receive them, with their byte ranges.</summary>
    public IReadOnlyList<SafeTensorInfo> Order { get; }

    /// <summary>The tensor <see cref="Write"/> expects next, or null when all are written.</summary>
    public SafeTensorInfo? Next => _next < Order.Count ? Order[_next] : null;

    /// <summary>Writes the next tensor's bytes; its name, dtype and shape must match the header.</summary>
    /// <exception cref="InvalidOperationException">Out of order, or every tensor already written.</exception>
    /// <exception cref="ArgumentException">dtype or shape differs from the header.</exception>
    public void Write(string name, Tensor tensor)
    {
        var expected = Next ?? throw new InvalidOperationException($"All {Order.Count} tensors are already written; '{name}' is one too many.");
        if (expected.Name != name)
            throw new InvalidOperationException($"Tensor '{name}' written out of order: '{expected.Name}' is next.");
        if (tensor.dtype != expected.DType || !tensor.shape.SequenceEqual(expected.Shape))
            throw new ArgumentException($"Tensor '{name}' is {tensor.dtype} {Shapes.Format(tensor.shape)}; the header says {expected.DType} {expected.ShapeText}.");
        if (_writtenOfNext > 0)
            throw new InvalidOperationException($"Tensor '{name}' is half written ({_writtenOfNext} of {expected.ByteLength} bytes): finish it with WriteBytes.");
        TensorBytes.Write(_stream, tensor);
        _next++;
    }

    /// <summary>
    /// Writes the next <paramref name="bytes"/> (raw little-endian data of the header's dtype) of the tensor
    /// <see cref="Next"/>; once all its bytes are written, the writer moves on to the following tensor. A
    /// tensor's data may come in any number of pieces, e.g. rows copied from one file and rows drawn afresh.
    /// </summary>
    /// <exception cref="InvalidOperationException">Out of order, more bytes than the tensor holds, or every tensor already written.</exception>
    public void WriteBytes(string name, ReadOnlySpan<byte> bytes)
    {
        var expected = Next ?? throw new InvalidOperationException($"All {Order.Count} tensors are already written; '{name}' is one too many.");
        if (expected.Name != name)
            throw new InvalidOperationException($"Tensor '{name}' written out of order: '{expected.Name}' is next.");
        if (bytes.Length > expected.ByteLength - _writtenOfNext)
            throw new InvalidOperationException($"Tensor '{name}' ({expected.DType} {expected.ShapeText}) holds {expected.ByteLength} bytes; {_writtenOfNext} are written and {bytes.Length} more do not fit.");
        _stream.Write(bytes);
        _writtenOfNext += bytes.Length;
        if (_writtenOfNext < expected.ByteLength) return;
        _writtenOfNext = 0;
        _next++;
    }

    /// <summary>Checks that every tensor was written and flushes the stream.</summary>
    /// <exception cref="InvalidOperationException">Some tensors were not written.</exception>
    public void Complete()
    {
        if (Next is { } missing)
            throw new InvalidOperationException($"{Order.Count - _next} of {Order.Count} tensors were not written, starting with '{missing.Name}' ({_writtenOfNext} of its {missing.ByteLength} bytes written).");
        _stream.Flush();
    }

    /// <summary>Closes the stream unless it was to be left open.</summary>
    public void Dispose()
    {
        if (!_leaveOpen) _stream.Dispose();
    }
}
