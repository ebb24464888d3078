using System.Numerics;

namespace TokenformerGen.Checkpoints.Torch;

// The values a pickle can hold, as PickleReader builds them. Nothing here runs Python code: a class or function the
// reader does not model is kept as a PyGlobal, and an instance of it as a PyObject holding its arguments and state.
// Python None, bool, int, float, str and bytes become null, bool, long (BigInteger when larger), double, string and byte[].

/// <summary>A class or function referenced by a pickle (<c>module.name</c>), never resolved or called.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";

    public bool Is(string module, string name) => Module == module && Name == name;

    /// <summary>builtins.X under its protocol-2 spelling __builtin__.X too.</summary>
    public bool IsBuiltin(string name) => Name == name && Module is "builtins" or "__builtin__";
}

/// <summary>An instance of a class the reader does not model: what it was built from, kept for inspection.</summary>
internal sealed class PyObject(PyGlobal? type, object? arguments)
{
    public PyGlobal? Type { get; } = type;

    public object? Arguments { get; } = arguments;

    /// <summary>The state given by BUILD (usually its <c>__dict__</c>).</summary>
    public object? State { get; set; }

    /// <summary>Items appended or set on it (subclasses of list or dict).</summary>
    public List<object?> Items { get; } = [];

    public override string ToString() => $"<{Type?.ToString() ?? "object"}>";
}

/// <summary>
/// A Python tuple: fixed items, compared by value (tuples can be dict keys). Its hash is computed once, from its items'
/// hashes, and its nesting depth is kept, so neither hashing nor a reader's depth cap walks the items again.
/// </summary>
internal sealed class PyTuple : IEquatable<PyTuple>
{
    public static readonly PyTuple Empty = new([]);

    private readonly int _hash;

    public PyTuple(IReadOnlyList<object?> items)
    {
        Items = items;
        var hash = new HashCode();
        var depth = 1;
        foreach (var item in items)
        {
            hash.Add(item, PyKeyComparer.Instance);
            if (item is PyTuple inner) depth = Math.Max(depth, inner.Depth + 1);
        }
        _hash = hash.ToHashCode();
        Depth = depth;
    }

    public IReadOnlyList<object?> Items { get; }

    /// <summary>1 for a tuple of no tuples, else one more than its deepest tuple item.</summary>
    public int Depth { get; }

    public int Count => Items.Count;

    public object? this[int index] => Items[index];

    public bool Equals(PyTuple? other) => other is not null && (ReferenceEquals(this, other) || (_hash == other._hash && Items.SequenceEqual(other.Items, PyKeyComparer.Instance)));

    public override bool Equals(object? obj) => Equals(obj as PyTuple);

    public override int GetHashCode() => _hash;

    /// <summary>The items described one level deep (<see cref="PickleReader.Describe"/>), so the text stays short.</summary>
    public override string ToString() => $"({string.Join(", ", Items.Select(PickleReader.Describe))})";
}

/// <summary>
/// A Python dict or OrderedDict: insertion order kept, a key set again replaces its value in place. Its list and index
/// are made with its first item: a pickle can push an empty dict with every byte (EMPTY_DICT), and three objects each
/// made a megabyte of them take 190 MB and over a second, where one takes a third of both.
/// </summary>
internal sealed class PyDict
{
    private List<KeyValuePair<object?, object?>>? _items;
    private Dictionary<object, int>? _index;
    private int _nullKey = -1;

    /// <summary>Whether it was pickled as collections.OrderedDict.</summary>
    public bool Ordered { get; init; }

    /// <summary>Instance attributes given by BUILD (a state_dict's <c>_metadata</c>).</summary>
    public object? State { get; set; }

    public int Count => _items?.Count ?? 0;

    public IEnumerable<KeyValuePair<object?, object?>> Items => _items ?? [];

    public void Set(object? key, object? value)
    {
        var items = _items ??= [];
        var at = key is null ? _nullKey : _index?.GetValueOrDefault(key, -1) ?? -1;
        if (at >= 0)
        {
            items[at] = new(key, value);
            return;
        }
        if (key is null) _nullKey = items.Count;
        else (_index ??= new(PyKeyComparer.Instance))[key] = items.Count;
        items.Add(new(key, value));
    }

    public bool TryGet(object key, out object? value)
    {
        if (_index is not null && _index.TryGetValue(key, out var at))
        {
            value = _items![at].Value;
            return true;
        }
        value = null;
        return false;
    }
}

/// <summary>A Python set or frozenset.</summary>
internal sealed class PySet(List<object?> items)
{
    /// <summary>Its items: the list it was made with, not a copy (EMPTY_SET makes one per byte, so each is one list).</summary>
    public List<object?> Items { get; } = items;
}

/// <summary>Value equality for the keys Python hashes by value (str, int, float, bool, bytes, tuple); identity otherwise.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object?>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => (x, y) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (long a, long b) => a == b,
        (long a, BigInteger b) => a == b,
        (BigInteger a, long b) => a == b,
        (BigInteger a, BigInteger b) => a == b,
        (byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b),
        (string or double or bool or PyTuple, _) => x.Equals(y),
        _ => ReferenceEquals(x, y),
    };

    // System.HashCode is seeded per process, so a file cannot choose keys that all collide (a quadratic dict).
    public int GetHashCode(object? obj) => obj switch
    {
        null => 0,
        long l => Wide(l),
        BigInteger b => b >= long.MinValue && b <= long.MaxValue ? Wide((long)b) : ContentHash(b.ToByteArray()),
        byte[] bytes => ContentHash(bytes),
        double d => Wide(BitConverter.DoubleToInt64Bits(d == 0 ? 0 : d)),   // 0.0 and -0.0 are one key
        string or bool or PyTuple => obj.GetHashCode(),
        _ => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj),
    };

    // Both halves mixed on their own: long.GetHashCode xors them, so 2^32·k + k would all collide whatever the seed.
    private static int Wide(long value) => HashCode.Combine((int)value, (int)(value >> 32));

    private static int ContentHash(byte[] bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
