using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Numerics;

namespace TokenformerGen.Data;

/// <summary>
/// The on-disk token file: a 64-byte little-endian header, then the ids as raw little-endian <c>uint16</c>
/// (vocabulary ≤ 65,536) or <c>int32</c>.
/// </summary>
/// <remarks>
/// Header: bytes 0–7 magic <c>"TFGTOKNS"</c>; 8–11 <c>uint32</c> format version (1); 12–15 <c>uint32</c> bytes per id
/// (2 or 4); 16–23 <c>int64</c> token count; 24–31 <c>int64</c> tokenizer vocabulary size; 32–39 <c>int64</c> UTF-8
/// bytes of the whole text; 40–47 <c>int64</c> UTF-8 bytes of the validation split's text; 48–63 zero.
/// The file is valid only if its length is exactly <c>64 + count × bytes per id</c>.
/// </remarks>
internal static class TokenFile
{
    public const int HeaderSize = 64;
    public const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "TFGTOKNS"u8;

    public readonly record struct Header(int BytesPerId, long Count, long VocabularySize, long TextBytes, long HeldOutBytes);

    /// <summary>2 when every id fits a <c>uint16</c>, else 4.</summary>
    public static int BytesPerIdFor(long vocabularySize) => vocabularySize <= 65536 ? 2 : 4;

    public static void WriteHeader(Stream stream, Header header)
    {
        Span<byte> bytes = stackalloc byte[HeaderSize];
        bytes.Clear();
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], (uint)header.BytesPerId);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], header.Count);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[24..], header.VocabularySize);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[32..], header.TextBytes);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[40..], header.HeldOutBytes);
        stream.Position = 0;
        stream.Write(bytes);
    }

    /// <summary>Appends ids to <paramref name="stream"/> at its position in the file's id format.</summary>
    public static void WriteIds(Stream stream, ReadOnlySpan<int> ids, int bytesPerId)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(ids.Length, 1 << 16) * bytesPerId);
        try
        {
            while (!ids.IsEmpty)
            {
                var n = Math.Min(ids.Length, buffer.Length / bytesPerId);
                for (var i = 0; i < n; i++)
                {
                    var id = ids[i];
                    if (bytesPerId == 2)
                    {
                        if ((uint)id > ushort.MaxValue) throw new InvalidDataException($"token id {id} does not fit the file's uint16 ids");
                        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(i * 2), (ushort)id);
                    }
                    else BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(i * 4), id);
                }
                stream.Write(buffer, 0, n * bytesPerId);
                ids = ids[n..];
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Reads and checks the header; null with a reason when the file is not a complete token file.</summary>
    public static Header? TryReadHeader(string path, out string reason)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> bytes = stackalloc byte[HeaderSize];
            if (stream.Length < HeaderSize || stream.ReadAtLeast(bytes, HeaderSize, throwOnEndOfStream: false) < HeaderSize)
            { reason = $"shorter ({stream.Length} bytes) than its {HeaderSize}-byte header"; return null; }
            if (!bytes[..8].SequenceEqual(Magic)) { reason = "bad magic"; return null; }
            var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
            if (version != Version) { reason = $"format version {version}, expected {Version}"; return null; }
            var header = new Header(
                (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]),
                BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
                BinaryPrimitives.ReadInt64LittleEndian(bytes[40..]));
            if (header.BytesPerId is not (2 or 4) || header.Count < 0) { reason = "bad id width or count"; return null; }
            var expected = HeaderSize + header.Count * header.BytesPerId;
            if (stream.Length != expected) { reason = $"{stream.Length} bytes where the header's count needs {expected}"; return null; }
            reason = "";
            return header;
        }
        catch (IOException e) { reason = e.Message; return null; }
    }
}

/// <summary>How ids are stored in a mapped file.</summary>
internal enum IdType
{
    UInt8,
    Int8,
    Int16,
    UInt16,
    Int32,
    Int64,
}

/// <summary>
/// Read-only memory-mapped view of ids stored from a byte offset of a file (our token files, NeoX <c>.bin</c> files);
/// nothing is loaded into managed memory up front.
/// </summary>
internal sealed class MappedTokens : IDisposable
{
    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _offset;
    private readonly IdType _type;

    public MappedTokens(string path, TokenFile.Header header)
        : this(path, TokenFile.HeaderSize, header.Count, header.BytesPerId == 2 ? IdType.UInt16 : IdType.Int32) { }

    public MappedTokens(string path, long offset, long count, IdType type)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("token files are read on little-endian machines only");
        _offset = offset;
        _type = type;
        Count = count;
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length == 0)
        {
            stream.Dispose();   // an empty file cannot be mapped; it holds no ids anyway
            return;
        }
        _file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
    }

    public long Count { get; }

    /// <summary>Bytes per id of <paramref name="type"/>.</summary>
    public static int Width(IdType type) => type switch
    {
        IdType.UInt8 or IdType.Int8 => 1,
        IdType.Int16 or IdType.UInt16 => 2,
        IdType.Int32 => 4,
        _ => 8,
    };

    /// <summary>Copies ids <c>[start, start + destination.Length)</c> into <paramref name="destination"/>.</summary>
    public void Read(long start, Span<int> destination) => Read<int>(start, destination);   // ids were checked against the vocabulary when opened

    /// <summary>The position and value of the first id outside <c>[0, limit)</c>, or −1 when every id is inside.</summary>
    public long FirstIdOutside(long limit, out long value)
    {
        const int block = 1 << 20;
        var buffer = new long[(int)Math.Min(Count, block)];
        for (long start = 0; start < Count; start += block)
        {
            var ids = buffer.AsSpan(0, (int)Math.Min(block, Count - start));
            Read<long>(start, ids);   // widened to 64 bits, so no stored id can wrap into range
            for (var i = 0; i < ids.Length; i++)
            {
                if (ids[i] < 0 || ids[i] >= limit)
                {
                    value = ids[i];
                    return start + i;
                }
            }
        }
        value = 0;
        return -1;
    }

    // The one place the stored type is looked at: ids [start, start + destination.Length) converted to TOut.
    private void Read<TOut>(long start, Span<TOut> destination) where TOut : IBinaryInteger<TOut>
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"ids [{start}, {start + destination.Length}) are outside [0, {Count})");
        if (destination.IsEmpty) return;
        var offset = _offset + start * Width(_type);
        switch (_type)
        {
            case IdType.UInt8: Copy<byte, TOut>(offset, destination); break;
            case IdType.Int8: Copy<sbyte, TOut>(offset, destination); break;
            case IdType.Int16: Copy<short, TOut>(offset, destination); break;
            case IdType.UInt16: Copy<ushort, TOut>(offset, destination); break;
            case IdType.Int32: Copy<int, TOut>(offset, destination); break;
            default: Copy<long, TOut>(offset, destination); break;
        }
    }

    private void Copy<TStored, TOut>(long offset, Span<TOut> destination)
        where TStored : unmanaged, IBinaryInteger<TStored> where TOut : IBinaryInteger<TOut>
    {
        var buffer = ArrayPool<TStored>.Shared.Rent(destination.Length);
        try
        {
            _view!.ReadArray(offset, buffer, 0, destination.Length);
            for (var i = 0; i < destination.Length; i++) destination[i] = TOut.CreateTruncating(buffer[i]);
        }
        finally { ArrayPool<TStored>.Shared.Return(buffer); }
    }

    public void Dispose()
    {
        _view?.Dispose();
        _file?.Dispose();
    }
}
