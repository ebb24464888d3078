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
    /// <exception cref="CheckpointFormatException">Not a torch.save zip, or a pickle that cannot be read.</exception>
    public static TorchArchiveReader Open(string path) => new(path);
}

/// <summary>An open <c>torch.save</c> file: its unpickled <see cref="Root"/> and the storages its tensors read from.</summary>
internal sealed class TorchArchiveReader : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly Dictionary<string, Tensor> _storages = [];

    public TorchArchiveReader(string path)
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
            _zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
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
                using var reader = new StreamReader(order.Open(), Encoding.ASCII);
                var byteOrder = reader.ReadToEnd().Trim();
                if (byteOrder != "little") throw new CheckpointFormatException(path, null, $"saved with byte order '{byteOrder}'; only little-endian files are read");
            }
            using var pickleStream = new BufferedStream(pickle.Open(), 1 << 16);
            using var seekable = new MemoryStream();
            pickleStream.CopyTo(seekable);   // the pickle itself is small; tensors stay in their records
            seekable.Position = 0;
            try
            {
                Root = PickleReader.Load(seekable, PersistentLoad);
            }
            catch (PickleException e)
            {
                throw new CheckpointFormatException(path, null, $"its data.pkl cannot be read: {e.Message}", e);
            }
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

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
        var last = shape.Any(d => d == 0) ? reference.Offset - 1 : reference.Offset + shape.Zip(stride, (d, s) => (d - 1) * s).Sum();
        if (last >= reference.Storage.Numel)
            throw new CheckpointFormatException(Path, name,
                $"the view (offset {reference.Offset}, shape [{string.Join(", ", shape)}], stride [{string.Join(", ", stride)}]) reaches element {last} of a {reference.Storage.Numel}-element storage '{reference.Storage.Key}'");
        using var view = storage.as_strided(shape, stride, reference.Offset);
        var tensor = empty(shape, dtype ?? storage.dtype);
        tensor.copy_(view);
        return tensor;
    }

    private Tensor Storage(TorchStorageRef reference, string name)
    {
        if (_storages.TryGetValue(reference.Key, out var cached)) return cached;
        var dtype = TorchArchive.DTypeOf(reference.Type)
            ?? throw new CheckpointFormatException(Path, name, $"storage type torch.{reference.Type} is not one this reader knows (float, half, bfloat16, double and the integer and bool storages are)");
        var entry = _zip.GetEntry($"{_prefix}data/{reference.Key}")
            ?? throw new CheckpointFormatException(Path, name, $"the archive has no record data/{reference.Key} for its storage");
        var bytes = reference.Numel * SafeTensorsDType.ItemSize(dtype);
        if (entry.Length != bytes)
            throw new CheckpointFormatException(Path, name, $"record data/{reference.Key} has {entry.Length} bytes; {reference.Numel} elements of torch.{reference.Type} need {bytes}");
        using var stream = entry.Open();
        var tensor = TensorBytes.Read(stream, dtype, [reference.Numel], Path, name);
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
