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

/// <summary>A Python tuple: fixed items, compared by value (tuples can be dict keys).</summary>
internal sealed class PyTuple(IReadOnlyList<object?> items) : IEquatable<PyTuple>
{
    public static readonly PyTuple Empty = new([]);

    public IReadOnlyList<object?> Items { get; } = items;

    public int Count => Items.Count;

    public object? this[int index] => Items[index];

    public bool Equals(PyTuple? other) => other is not null && Items.SequenceEqual(other.Items, PyKeyComparer.Instance);

    public override bool Equals(object? obj) => Equals(obj as PyTuple);

    public override int GetHashCode() => Items.Aggregate(17, (h, item) => h * 31 + PyKeyComparer.Instance.GetHashCode(item));

    public override string ToString() => $"({string.Join(", ", Items)})";
}

/// <summary>A Python dict or OrderedDict: insertion order kept, a key set again replaces its value in place.</summary>
internal sealed class PyDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = [];
    private readonly Dictionary<object, int> _index = new(PyKeyComparer.Instance);
    private int _nullKey = -1;

    /// <summary>Whether it was pickled as collections.OrderedDict.</summary>
    public bool Ordered { get; init; }

    /// <summary>Instance attributes given by BUILD (a state_dict's <c>_metadata</c>).</summary>
    public object? State { get; set; }

    public int Count => _items.Count;

    public IEnumerable<KeyValuePair<object?, object?>> Items => _items;

    public void Set(object? key, object? value)
    {
        var at = key is null ? _nullKey : _index.GetValueOrDefault(key, -1);
        if (at >= 0)
        {
            _items[at] = new(key, value);
            return;
        }
        if (key is null) _nullKey = _items.Count;
        else _index[key] = _items.Count;
        _items.Add(new(key, value));
    }

    public bool TryGet(object key, out object? value)
    {
        if (_index.TryGetValue(key, out var at))
        {
            value = _items[at].Value;
            return true;
        }
        value = null;
        return false;
    }
}

/// <summary>A Python set or frozenset.</summary>
internal sealed class PySet(IEnumerable<object?> items)
{
    public List<object?> Items { get; } = [.. items];
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

    public int GetHashCode(object? obj) => obj switch
    {
        null => 0,
        long l => l.GetHashCode(),
        BigInteger b => b >= long.MinValue && b <= long.MaxValue ? ((long)b).GetHashCode() : b.GetHashCode(),
        byte[] bytes => bytes.Length,
        string or double or bool or PyTuple => obj.GetHashCode(),
        _ => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj),
    };
}
