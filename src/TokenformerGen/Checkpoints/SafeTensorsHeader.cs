using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TokenformerGen.Checkpoints;

/// <summary>
/// The safetensors header: an 8-byte little-endian length N, N bytes of UTF-8 JSON
/// (<c>{"__metadata__": {..strings..}, "name": {"dtype", "shape", "data_offsets"}, ...}</c>), then the
/// data region. Parsing validates everything that can lie before any tensor memory is allocated.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>The largest header accepted (bytes); a longer length field is refused unread.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public const string MetadataKey = "__metadata__";

    public sealed record Parsed(IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart, long DataLength);

    /// <summary>Reads and validates the header of a seekable stream positioned anywhere.</summary>
    public static Parsed Read(Stream stream, string path)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
            throw new CheckpointFormatException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header length field.");

        stream.Position = 0;
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new CheckpointFormatException(path, null, $"header length {headerLength} exceeds the {fileLength - 8} bytes that follow the length field (file truncated or not safetensors).");
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointFormatException(path, null, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit.");
        if (headerLength < 2)
            throw new CheckpointFormatException(path, null, $"header length {headerLength} is too short for a JSON object.");

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;
        var (tensors, metadata) = Parse(header, path, dataLength);
        return new Parsed(tensors, metadata, dataStart, dataLength);
    }

    private static (IReadOnlyList<SafeTensorInfo>, IReadOnlyDictionary<string, string>) Parse(byte[] header, string path, long dataLength)
    {
        // JsonDocument checks UTF-8 only when a string is read; a name or value with bad bytes must be refused here.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new CheckpointFormatException(path, null, $"header is not valid UTF-8 (the format's JSON is UTF-8 text; first bad byte at {8 + FirstInvalidUtf8(header)}).");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, null, $"header is not valid JSON ({e.Message}).", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path, null, $"header is a JSON {root.ValueKind}, not an object.");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafeTensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new CheckpointFormatException(path, property.Name, "appears twice in the header.");
                if (property.Name == MetadataKey)
                    ParseMetadata(property.Value, path, metadata);
                else
                    tensors.Add(ParseTensor(property.Name, property.Value, path, dataLength));
            }
            CheckCoverage(tensors, path, dataLength);
            tensors.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return (tensors, metadata);
        }
    }

    /// <summary>The index of the first byte of <paramref name="bytes"/> that is not part of valid UTF-8, or its length.</summary>
    internal static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (at < bytes.Length && System.Text.Rune.DecodeFromUtf8(bytes[at..], out _, out var length) == System.Buffers.OperationStatus.Done) at += length;
        return at;
    }

    private static void ParseMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, null, $"{MetadataKey} is a JSON {value.ValueKind}, not an object of strings.");
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(path, null, $"{MetadataKey} entry '{entry.Name}' is a JSON {entry.Value.ValueKind}, not a string.");
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                throw new CheckpointFormatException(path, null, $"{MetadataKey} entry '{entry.Name}' appears twice.");
        }
    }

    private static SafeTensorInfo ParseTensor(string name, JsonElement value, string path, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, name, $"header entry is a JSON {value.ValueKind}, not an object.");

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (var field in value.EnumerateObject())
        {
            ref JsonElement? slot = ref dtypeElement;
            switch (field.Name)
            {
                case "dtype": slot = ref dtypeElement; break;
                case "shape": slot = ref shapeElement; break;
                case "data_offsets": slot = ref offsetsElement; break;
                default: throw new CheckpointFormatException(path, name, $"unknown header field '{field.Name}' (expected dtype, shape, data_offsets).");
            }
            if (slot is not null)
                throw new CheckpointFormatException(path, name, $"header field '{field.Name}' appears twice.");
            slot = field.Value;
        }
        if (dtypeElement is null || shapeElement is null || offsetsElement is null)
            throw new CheckpointFormatException(path, name, "header entry lacks one of dtype, shape, data_offsets.");

        if (dtypeElement.Value.ValueKind != JsonValueKind.String)
            throw new CheckpointFormatException(path, name, "dtype is not a string.");
        var dtypeName = dtypeElement.Value.GetString()!;
        if (!SafeTensorsDType.TryParse(dtypeName, out var dtype, out var itemSize))
            throw new CheckpointFormatException(path, name, $"unknown or unsupported dtype '{dtypeName}' (supported: {SafeTensorsDType.SupportedNames}).");

        var shape = ReadIntegers(shapeElement.Value, path, name, "shape");
        var offsets = ReadIntegers(offsetsElement.Value, path, name, "data_offsets");
        if (offsets.Length != 2)
            throw new CheckpointFormatException(path, name, $"data_offsets has {offsets.Length} numbers, not 2.");
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin)
            throw new CheckpointFormatException(path, name, $"data_offsets [{begin}, {end}) end before they begin.");
        if (end > dataLength)
            throw new CheckpointFormatException(path, name, $"data_offsets [{begin}, {end}) run past the end of the {dataLength}-byte data region (file truncated or header lies).");

        long bytes;
        try
        {
            bytes = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * itemSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(path, name, $"shape {Shapes.Format(shape)} × {itemSize} bytes overflows a 64-bit size.");
        }
        if (bytes != end - begin)
            throw new CheckpointFormatException(path, name, $"shape {Shapes.Format(shape)} × {itemSize} bytes ({dtypeName}) = {bytes} bytes, but data_offsets [{begin}, {end}) span {end - begin} bytes.");
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(JsonElement element, string path, string name, string field)
    {
        if (element.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException(path, name, $"{field} is a JSON {element.ValueKind}, not an array.");
        var values = new long[element.GetArrayLength()];
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw new CheckpointFormatException(path, name, $"{field}[{i}] = {item.GetRawText()} is not a non-negative 64-bit integer.");
            values[i++] = v;
        }
        return values;
    }

    // The tensors must tile the data region exactly: no overlaps, no holes, nothing after the last.
    private static void CheckCoverage(List<SafeTensorInfo> tensors, string path, long dataLength)
    {
        var byOffset = tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd).ToList();
        long expected = 0;
        SafeTensorInfo? previous = null;
        foreach (var t in byOffset)
        {
            if (t.DataBegin < expected)
                throw new CheckpointFormatException(path, t.Name, $"data_offsets [{t.DataBegin}, {t.DataEnd}) overlap tensor '{previous!.Name}' at [{previous.DataBegin}, {previous.DataEnd}).");
            if (t.DataBegin > expected)
                throw new CheckpointFormatException(path, t.Name, $"data_offsets [{t.DataBegin}, {t.DataEnd}) leave a hole of {t.DataBegin - expected} bytes after byte {expected}.");
            expected = t.DataEnd;
            previous = t;
        }
        if (expected != dataLength)
            throw new CheckpointFormatException(path, null, $"the tensors cover {expected} bytes but the data region has {dataLength} ({dataLength - expected} bytes of trailing garbage).");
    }

    /// <summary>
    /// Builds the header for tensors already sorted by name: returns the bytes (length field included,
    /// JSON padded with spaces so the data starts 8-byte aligned) and each tensor's byte range.
    /// </summary>
    public static (byte[] Bytes, IReadOnlyList<SafeTensorInfo> Layout) Build(IReadOnlyList<TensorSpec> sorted, IReadOnlyDictionary<string, string>? metadata)
    {
        var layout = new List<SafeTensorInfo>(sorted.Count);
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    writer.WriteString(key, value);
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var spec in sorted)
            {
                var info = new SafeTensorInfo(spec.Name, spec.DType, spec.Shape, offset, checked(offset + spec.ByteLength));
                layout.Add(info);
                offset = info.DataEnd;
                writer.WriteStartObject(spec.Name);
                writer.WriteString("dtype", SafeTensorsDType.NameOf(spec.DType));
                writer.WriteStartArray("shape");
                foreach (var d in spec.Shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(info.DataBegin);
                writer.WriteNumberValue(info.DataEnd);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }

        var jsonLength = json.Length;
        var padded = (jsonLength + 7) / 8 * 8;
        var bytes = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        json.GetBuffer().AsSpan(0, (int)jsonLength).CopyTo(bytes.AsSpan(8));
        bytes.AsSpan(8 + (int)jsonLength).Fill((byte)' ');
        return (bytes, layout);
    }

    /// <summary>Refuses names a safetensors header cannot hold and duplicates; returns the specs sorted by name.</summary>
    public static List<TensorSpec> SortAndCheck(IEnumerable<TensorSpec> specs)
    {
        var sorted = specs.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        for (var i = 0; i < sorted.Count; i++)
        {
            var s = sorted[i];
            if (string.IsNullOrEmpty(s.Name) || s.Name == MetadataKey)
                throw new ArgumentException($"'{s.Name}' cannot name a tensor in a safetensors file.");
            if (i > 0 && sorted[i - 1].Name == s.Name)
                throw new ArgumentException($"Tensor '{s.Name}' is given twice.");
            if (s.Shape.Any(d => d < 0))
                throw new ArgumentException($"Tensor '{s.Name}' has a negative dimension in {s.ShapeText}.");
            SafeTensorsDType.NameOf(s.DType);
        }
        return sorted;
    }
}
