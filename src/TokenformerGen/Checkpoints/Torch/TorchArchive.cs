using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints.Torch;

/// <summary>
/// The zip container of <c>torch.save</c> (PyTorch ≥ 1.6): one top-level folder holding <c>data.pkl</c> (the pickled
/// object, tensors as persistent storage ids), <c>data/{key}</c> (each storage's raw little-endian bytes),
/// <c>byteorder</c> and <c>version</c>. Written uncompressed, as torch writes it.
/// </summary>
internal static class TorchArchive
{
    private const string Folder = "archive";

    private static readonly (string Name, ScalarType DType)[] StorageTypes =
    [
        ("FloatStorage", ScalarType.Float32), ("HalfStorage", ScalarType.Float16), ("BFloat16Storage", ScalarType.BFloat16),
        ("DoubleStorage", ScalarType.Float64), ("LongStorage", ScalarType.Int64), ("IntStorage", ScalarType.Int32),
        ("ShortStorage", ScalarType.Int16), ("CharStorage", ScalarType.Int8), ("ByteStorage", ScalarType.Byte),
        ("BoolStorage", ScalarType.Bool),
    ];

    /// <summary>The storage classes this reader holds (<c>torch.FloatStorage</c> …), without their module.</summary>
    public static IEnumerable<string> StorageTypeNames => StorageTypes.Select(s => s.Name);

    /// <summary>The dtype of a torch storage class name, e.g. <c>HalfStorage</c>; null for one this reader cannot hold.</summary>
    public static ScalarType? DTypeOf(string storageType)
    {
        foreach (var (name, dtype) in StorageTypes)
            if (name == storageType) return dtype;
        return null;
    }

    private static string StorageTypeOf(ScalarType dtype)
    {
        foreach (var (name, type) in StorageTypes)
            if (type == dtype) return name;
        throw new ArgumentException($"no torch storage for {dtype}");
    }

    /// <summary>
    /// Writes <paramref name="root"/> as a <c>torch.save</c> file to <paramref name="stream"/>; every <see cref="Tensor"/>
    /// in it gets a storage of its own, in the order the pickle meets them.
    /// </summary>
    public static void Write(Stream stream, object? root)
    {
        var tensors = new List<Tensor>();
        using var pickle = new MemoryStream();
        new PickleWriter(pickle, tensor =>
        {
            tensors.Add(tensor);
            return (StorageTypeOf(tensor.dtype), (tensors.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }).Dump(root);

        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        void Record(string name, Action<Stream> write)
        {
            using var entry = zip.CreateEntry($"{Folder}/{name}", CompressionLevel.NoCompression).Open();
            write(entry);
        }
        Record("data.pkl", s => pickle.WriteTo(s));
        Record("byteorder", s => s.Write("little"u8));
        for (var i = 0; i < tensors.Count; i++) Record($"data/{i}", s => TensorBytes.Write(s, tensors[i]));
        Record("version", s => s.Write("3\n"u8));
    }

    /// <summary>Opens a <c>torch.save</c> file and unpickles its object (tensors stay on disk until read).</summary>
    /// <param name="path">The file.</param>
    /// <param name="allowed">The globals its pickle may name (<see cref="PickleGlobals"/>).</param>
    /// <exception cref="CheckpointFormatException">Not a torch.save zip, a compressed or damaged record, or a pickle that
    /// cannot be read or names what <paramref name="allowed"/> does not.</exception>
    public static TorchArchiveReader Open(string path, IReadOnlySet<string> allowed) => new(path, allowed);
}

/// <summary>An open <c>torch.save</c> file: its unpickled <see cref="Root"/> and the storages its tensors read from.</summary>
internal sealed class TorchArchiveReader : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly Dictionary<string, Tensor> _storages = [];

    public TorchArchiveReader(string path, IReadOnlySet<string> allowed)
    {
        Path = path;
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> signature = stackalloc byte[4];
            if (stream.Length < 22 || stream.Read(signature) != 4 || !signature.SequenceEqual("PK\x03\x04"u8))
                throw new CheckpointFormatException(path, null,
                    $"not a torch.save zip archive ({stream.Length} bytes starting {Convert.ToHexString(signature)}); files saved by PyTorch before 1.6 (_use_new_zipfile_serialization=False) are not supported");
            stream.Position = 0;
            _fileLength = stream.Length;
            _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            stream.Dispose();
            throw new CheckpointFormatException(path, null, $"not a readable zip archive ({e.Message})", e);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        try
        {
            var pickle = _zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                ?? throw new CheckpointFormatException(path, null, $"the zip has no FOLDER/data.pkl, so it is not a torch.save file (entries: {string.Join(", ", _zip.Entries.Take(5).Select(e => e.FullName))})");
            _prefix = pickle.FullName[..^"data.pkl".Length];
            if (_zip.GetEntry(_prefix + "byteorder") is { } order)
            {
                var byteOrder = Encoding.ASCII.GetString(ReadRecord(order, "byteorder")).Trim();
                if (byteOrder != "little") throw new CheckpointFormatException(path, null, $"saved with byte order '{PickleReader.Describe(byteOrder)}'; only little-endian files are read");
            }
            using var seekable = new MemoryStream(ReadRecord(pickle, "data.pkl"), writable: false);   // the pickle itself is small; tensors stay in their records
            try
            {
                Root = PickleReader.Load(seekable, PersistentLoad, allowed);
            }
            catch (PickleException e)
            {
                throw new CheckpointFormatException(path, null, $"its data.pkl cannot be read: {e.Message}", e);
            }
        }
        catch (InvalidDataException e)   // the central directory is read as the entries are first listed
        {
            _zip.Dispose();
            throw new CheckpointFormatException(path, null, $"not a readable zip archive ({e.Message})", e);
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
    }

    private readonly long _fileLength;

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>
    /// How many times its stored bytes a deflated record may hold (plus <see cref="InflationSlack"/>). torch.save stores
    /// records uncompressed; other zip writers (TorchSharp.PyBridge) deflate them, which weights survive at about 1.1×.
    /// More is a zip bomb or a lie, refused before anything of that size is allocated.
    /// </summary>
    public const int MaxInflation = 16;

    /// <summary>Bytes a deflated record may hold beyond <see cref="MaxInflation"/> times its stored bytes (tiny records).</summary>
    public const int InflationSlack = 1024;

    // A record's entry, refused when it claims more than its stored bytes can hold: no record is then larger than
    // MaxInflation times the file (uncompressed ones, as torch.save writes, no larger than the file).
    private ZipArchiveEntry Checked(ZipArchiveEntry entry, string record)
    {
        if (entry.CompressedLength > _fileLength)
            throw new CheckpointFormatException(Path, null, $"record {record} claims {entry.CompressedLength:N0} stored bytes, more than the {_fileLength:N0}-byte file holds");
        if (entry.Length > MaxInflation * entry.CompressedLength + InflationSlack)
            throw new CheckpointFormatException(Path, null, $"record {record} claims {entry.Length:N0} bytes from {entry.CompressedLength:N0} compressed ones, more than the {MaxInflation}× this reader inflates");
        return entry;
    }

    // Opens a checked record, turning the zip library's complaints about a damaged entry into a refusal naming it.
    private T InRecord<T>(ZipArchiveEntry entry, string record, Func<Stream, T> read)
    {
        try
        {
            using var stream = Checked(entry, record).Open();
            return read(stream);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException)
        {
            throw new CheckpointFormatException(Path, null, $"record {record} cannot be read ({e.Message})", e);
        }
    }

    private byte[] ReadRecord(ZipArchiveEntry entry, string record) => InRecord(entry, record, stream =>
    {
        var bytes = new byte[entry.Length];
        if (stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
            throw new CheckpointFormatException(Path, null, $"record {record} ends before its {entry.Length:N0} bytes");
        return bytes;
    });

    /// <summary>The unpickled object.</summary>
    public object? Root { get; }

    private object PersistentLoad(PyTuple id)
    {
        if (id.Count == 5 && id[0] is "storage" && id[1] is PyGlobal type && id[2] is string key && id[4] is long numel)
            return new TorchStorageRef(type.Name, key, id[3] as string ?? "", numel);
        throw new PickleException($"persistent id {id} is not a torch storage reference ('storage', type, key, location, numel)");
    }

    /// <summary>
    /// Reads a state dict, <paramref name="dict"/> (names to tensors), every tensor as a new contiguous CPU tensor of
    /// <paramref name="dtype"/> (null: its stored dtype). A key that is not a name, a value that is not a tensor or a
    /// storage type outside <paramref name="accepted"/> (null: any this reader knows) is refused, all listed at once.
    /// </summary>
    /// <param name="dict">The unpickled dict.</param>
    /// <param name="what">What the dict is, for messages (e.g. "its 'module'").</param>
    /// <param name="accepted">The stored dtypes allowed, or null.</param>
    /// <param name="dtype">The dtype to read every tensor as (a widening is exact), or null.</param>
    /// <exception cref="CheckpointFormatException">Not a state dict of accepted tensors, or a tensor that cannot be read.</exception>
    public Dictionary<string, Tensor> ReadStateDict(object? dict, string what, IReadOnlyCollection<ScalarType>? accepted = null, ScalarType? dtype = null)
    {
        if (dict is not PyDict entries)
            throw new CheckpointFormatException(Path, null, $"{what} is {PickleReader.Describe(dict)}, not a state dict");
        var problems = new List<string>();
        foreach (var (key, value) in entries.Items)
        {
            if (key is not string name) problems.Add($"a key that is not a name ({PickleReader.Describe(key)})");
            else if (value is not TorchTensorRef reference) problems.Add($"'{name}' is {PickleReader.Describe(value)}, not a tensor");
            else if (accepted is not null && !(TorchArchive.DTypeOf(reference.Storage.Type) is { } stored && accepted.Contains(stored)))
                problems.Add($"'{name}' is torch.{reference.Storage.Type}; weights are read from {Alternatives(accepted)}");
        }
        if (problems.Count > 0)
            throw new CheckpointFormatException(Path, null, $"{what} is not a state dict of the tensors this reader takes: {string.Join("; ", problems)}");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (key, value) in entries.Items) tensors[(string)key!] = Read((TorchTensorRef)value!, (string)key!, dtype);
            return tensors;
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    // "float16, bfloat16 or float32".
    private static string Alternatives(IReadOnlyCollection<ScalarType> types)
    {
        var names = types.Select(t => t.ToString().ToLowerInvariant()).ToList();
        return names.Count == 1 ? names[0] : string.Join(", ", names.SkipLast(1)) + " or " + names[^1];
    }

    /// <summary>
    /// The tensor <paramref name="reference"/> describes, read from its storage (each storage read once, shared by the
    /// tensors that view it), as a new contiguous CPU tensor of <paramref name="dtype"/> (null: its stored dtype): one copy.
    /// </summary>
    /// <exception cref="CheckpointFormatException">An unknown storage type, a missing or short record, or a view outside its storage.</exception>
    public Tensor Read(TorchTensorRef reference, string name, ScalarType? dtype = null)
    {
        var storage = Storage(reference.Storage, name);
        var shape = reference.Shape;
        var stride = reference.Stride;
        if (stride.Length != shape.Length)
            throw new CheckpointFormatException(Path, name, $"shape [{string.Join(", ", shape)}] and stride [{string.Join(", ", stride)}] differ in rank");
        if (reference.Offset < 0 || shape.Any(d => d < 0) || stride.Any(s => s < 0))
            throw new CheckpointFormatException(Path, name, $"negative offset, size or stride (offset {reference.Offset}, shape [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}])");
        var view = $"the view (offset {reference.Offset}, shape [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}])";
        var numel = reference.Storage.Numel;
        if (!shape.Contains(0))
        {
            // In 128 bits and stopping at the first step past the storage, so no size or stride can wrap around.
            Int128 last = reference.Offset, elements = 1;
            for (var i = 0; i < shape.Length && last < numel && elements <= numel; i++)
            {
                last += (Int128)(shape[i] - 1) * stride[i];
                elements *= shape[i];
            }
            if (last >= numel)
                throw new CheckpointFormatException(Path, name, $"{view} reaches past the last element of the {numel:N0}-element storage '{reference.Storage.Key}'");
            // A stride-0 (expanded) view could make a tensor far larger than the file; weights are never saved that way.
            if (elements > numel)
                throw new CheckpointFormatException(Path, name, $"{view} has more elements than its {numel:N0}-element storage '{reference.Storage.Key}' (an expanded tensor)");
        }
        else if (reference.Offset > numel)
            throw new CheckpointFormatException(Path, name, $"{view} starts past the end of the {numel:N0}-element storage '{reference.Storage.Key}'");
        using var strided = storage.as_strided(shape, stride, reference.Offset);
        var tensor = empty(shape, dtype ?? storage.dtype);
        tensor.copy_(strided);
        return tensor;
    }

    private Tensor Storage(TorchStorageRef reference, string name)
    {
        if (_storages.TryGetValue(reference.Key, out var cached)) return cached;
        var dtype = TorchArchive.DTypeOf(reference.Type)
            ?? throw new CheckpointFormatException(Path, name, $"storage type torch.{reference.Type} is not one this reader knows (float, half, bfloat16, double and the integer and bool storages are)");
        var entry = _zip.GetEntry($"{_prefix}data/{reference.Key}")
            ?? throw new CheckpointFormatException(Path, name, $"the archive has no record data/{reference.Key} for its storage");
        var itemSize = SafeTensorsDType.ItemSize(dtype);
        if (reference.Numel < 0 || reference.Numel > entry.Length / itemSize || entry.Length != reference.Numel * itemSize)
            throw new CheckpointFormatException(Path, name, $"record data/{PickleReader.Describe(reference.Key)} has {entry.Length:N0} bytes; {reference.Numel:N0} elements of torch.{reference.Type} need {(Int128)reference.Numel * itemSize:N0}");
        var tensor = InRecord(entry, $"data/{reference.Key}", stream => TensorBytes.Read(stream, dtype, [reference.Numel], Path, name));
        _storages[reference.Key] = tensor;
        return tensor;
    }

    /// <summary>Frees the storages read so far and closes the file.</summary>
    public void Dispose()
    {
        foreach (var storage in _storages.Values) storage.Dispose();
        _storages.Clear();
        _zip.Dispose();
    }
}
