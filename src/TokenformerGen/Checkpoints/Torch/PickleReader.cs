using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace TokenformerGen.Checkpoints.Torch;

/// <summary>A pickle that cannot be read; the message gives the byte offset of the opcode at fault.</summary>
internal sealed class PickleException(string message) : Exception(message);

/// <summary>A <c>torch.save</c> storage reference: the archive record <c>data/{Key}</c> holds <c>Numel</c> elements of <c>Type</c>.</summary>
internal sealed record TorchStorageRef(string Type, string Key, string Location, long Numel);

/// <summary>A tensor as <c>torch._utils._rebuild_tensor_v2</c> describes it: a strided view of a storage.</summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Shape, long[] Stride, bool RequiresGrad);

/// <summary>
/// A pickle virtual machine for protocols 0–5 that builds plain values (<see cref="PyDict"/>, <see cref="PyTuple"/>, lists,
/// strings, numbers …) and never imports or calls anything. It refuses like a safe loader: a global outside the allow-list
/// it is given (<see cref="PickleGlobals"/>) is refused where it is read, the allowed ones are interpreted as data
/// (OrderedDict, set, bytes, <c>_codecs.encode</c>, tensor rebuilding, <c>torch.Size</c>) or kept as inert records
/// (<see cref="PickleGlobals.DeepSpeedRecords"/>), and <c>INST</c>, <c>OBJ</c>, any other <c>REDUCE</c> or <c>NEWOBJ</c>,
/// and <c>BUILD</c> on anything but a dict or a record are refused. Tuples nest at most <see cref="MaxDepth"/> deep,
/// integers have at most <see cref="MaxIntegerDigits"/> digits, and every length is checked against the bytes left.
/// </summary>
internal sealed class PickleReader
{
    private readonly Stream _input;
    private readonly Func<PyTuple, object?> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private readonly HashSet<PyTuple> _tuples = [];
    private readonly IReadOnlySet<string> _allowed;
    private long _opcodeAt;

    /// <summary>How deep tuples may nest (a state dict's are 3 deep; hashing and comparing them recurses).</summary>
    public const int MaxDepth = 100;

    /// <summary>The most decimal digits an integer may have (Python's own limit for converting text to int).</summary>
    public const int MaxIntegerDigits = 4300;

    // The most bytes of a LONG4 integer: as many as MaxIntegerDigits decimal digits need.
    private const int MaxIntegerBytes = 1786;

    private PickleReader(Stream input, Func<PyTuple, object?> persistentLoad, IReadOnlySet<string> allowed)
    {
        _input = input;
        _persistentLoad = persistentLoad;
        _allowed = allowed;
    }

    /// <summary>Reads one pickled value from <paramref name="input"/>.</summary>
    /// <param name="input">The pickle bytes (a seekable stream, so lengths are checked against what is left).</param>
    /// <param name="persistentLoad">Resolves a persistent id (torch: a storage reference tuple).</param>
    /// <param name="allowed">The globals the pickle may name (<see cref="PickleGlobals"/>); any other is refused.</param>
    /// <exception cref="PickleException">A malformed pickle, a refused global or construct, or an opcode this reader does not support.</exception>
    public static object? Load(Stream input, Func<PyTuple, object?> persistentLoad, IReadOnlySet<string> allowed)
        => new PickleReader(input, persistentLoad, allowed).Run();

    private object? Run()
    {
        while (true)
        {
            _opcodeAt = _input.CanSeek ? _input.Position : -1;
            var op = _input.ReadByte();
            if (op < 0) throw Fail("the pickle ended before its STOP opcode");
            switch (op)
            {
                case 0x80: ReadByte(); break;                                  // PROTO
                case 0x95: ReadBytes(8); break;                                // FRAME: only a size hint
                case 0x2e: return _stack.Count == 1 ? _stack[0] : throw Fail($"STOP with {_stack.Count} values on the stack"); // STOP
                case 0x28: _marks.Push(_stack.Count); break;                   // MARK
                case 0x30: if (_marks.Count > 0 && _stack.Count == _marks.Peek()) _marks.Pop(); else Pop(); break; // POP (a bare MARK pops itself)
                case 0x31: PopMark(); break;                                   // POP_MARK
                case 0x32: Push(Top()); break;                                 // DUP
                case 0x4e: Push(null); break;                                  // NONE
                case 0x88: Push(true); break;                                  // NEWTRUE
                case 0x89: Push(false); break;                                 // NEWFALSE
                case 0x49: Push(ParseIntLine(ReadLine())); break;              // INT
                case 0x4a: Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case 0x4b: Push((long)ReadByte()); break;                      // BININT1
                case 0x4d: Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case 0x4c: Push(ParseInteger(ReadLine().TrimEnd('L'), "LONG")); break; // LONG
                case 0x8a: Push(Integer(new BigInteger(ReadBytes(ReadByte()), isUnsigned: false, isBigEndian: false))); break; // LONG1
                case 0x8b: Push(Integer(new BigInteger(ReadBytes(IntegerLength(ReadLength(4))), isUnsigned: false, isBigEndian: false))); break; // LONG4
                case 0x46: Push(ParseFloat(ReadLine())); break;                 // FLOAT
                case 0x47: Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case 0x53: Push(Unquote(ReadLine())); break;                   // STRING (protocol 0 str)
                case 0x54: Push(Latin1(ReadBytes(ReadLength(4)))); break;      // BINSTRING
                case 0x55: Push(Latin1(ReadBytes(ReadByte()))); break;         // SHORT_BINSTRING
                case 0x56: Push(RawUnicodeEscape(Latin1(ReadLineBytes()))); break; // UNICODE
                case 0x58: Push(Utf8(ReadBytes(ReadLength(4)))); break;        // BINUNICODE
                case 0x8c: Push(Utf8(ReadBytes(ReadByte()))); break;           // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(ReadBytes(ReadLength(8)))); break;        // BINUNICODE8
                case 0x42: Push(ReadBytes(ReadLength(4))); break;              // BINBYTES
                case 0x43: Push(ReadBytes(ReadByte())); break;                 // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(ReadLength(8))); break;              // BINBYTES8
                case 0x96: Push(ReadBytes(ReadLength(8))); break;              // BYTEARRAY8
                case 0x29: Push(PyTuple.Empty); break;                         // EMPTY_TUPLE
                case 0x74: Push(Tuple(PopMark())); break;                      // TUPLE
                case 0x85: Push(Tuple(PopN(1))); break;                        // TUPLE1
                case 0x86: Push(Tuple(PopN(2))); break;                        // TUPLE2
                case 0x87: Push(Tuple(PopN(3))); break;                        // TUPLE3
                case 0x5d: Push(new List<object?>()); break;                   // EMPTY_LIST
                case 0x6c: Push(PopMark()); break;                             // LIST
                case 0x61: Append(Top(1), [Pop()]); break;                     // APPEND
                case 0x65: { var items = PopMark(); Append(Top(), items); break; } // APPENDS
                case 0x7d: Push(new PyDict()); break;                          // EMPTY_DICT
                case 0x64: { var dict = new PyDict(); SetItems(dict, PopMark()); Push(dict); break; } // DICT
                case 0x73: { var value = Pop(); var key = Pop(); SetItems(Top(), [key, value]); break; } // SETITEM
                case 0x75: { var items = PopMark(); SetItems(Top(), items); break; } // SETITEMS
                case 0x8f: Push(new PySet([])); break;                         // EMPTY_SET
                case 0x90: { var items = PopMark(); AddItems(Top(), items); break; } // ADDITEMS
                case 0x91: Push(new PySet(PopMark())); break;                  // FROZENSET
                case 0x70: _memo[ParseIntLine(ReadLine()) is long p ? p : throw Fail("bad PUT index")] = Top(); break; // PUT
                case 0x71: _memo[ReadByte()] = Top(); break;                   // BINPUT
                case 0x72: _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Top(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Top(); break;                  // MEMOIZE
                case 0x67: Push(Memo(ParseIntLine(ReadLine()) is long g ? g : throw Fail("bad GET index"))); break; // GET
                case 0x68: Push(Memo(ReadByte())); break;                      // BINGET
                case 0x6a: Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case 0x63: Push(Global(ReadLine(), ReadLine())); break;        // GLOBAL
                case 0x93: { var name = Pop(); var module = Pop(); Push(Global(AsString(module), AsString(name))); break; } // STACK_GLOBAL
                case 0x52: { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args)); break; } // REDUCE
                case 0x81: { var args = Pop(); var cls = Pop(); Push(Instantiate(cls, args)); break; } // NEWOBJ
                case 0x92: { Pop(); var args = Pop(); var cls = Pop(); Push(Instantiate(cls, args)); break; } // NEWOBJ_EX (kwargs dropped)
                case 0x6f: throw Fail("OBJ (building a class instance, protocol 1) is refused: torch.save never writes it"); // OBJ
                case 0x69: throw Fail($"INST {ReadLine()}.{ReadLine()} (building a class instance, protocol 0) is refused: torch.save never writes it"); // INST
                case 0x62: { var state = Pop(); Build(Top(), state); break; }  // BUILD
                case 0x50: Push(_persistentLoad(Tuple([ReadLine()]))); break;  // PERSID
                case 0x51: Push(_persistentLoad(Pop() as PyTuple ?? throw Fail("BINPERSID id is not a tuple"))); break; // BINPERSID
                case 0x82 or 0x83 or 0x84: throw Fail("the copyreg extension registry (EXT1/EXT2/EXT4) is not supported");
                case 0x97 or 0x98: throw Fail("out-of-band buffers (protocol 5) are not supported");
                default: throw Fail($"unknown opcode 0x{op:X2}");
            }
        }
    }

    // A global the allow-list names, or the refusal naming it.
    private PyGlobal Global(string module, string name)
    {
        var global = new PyGlobal(module, name);
        return _allowed.Contains(global.ToString()) ? global
            : throw Fail($"global {global} is refused: a pickle here may name only {Allowed()}");
    }

    private string Allowed() => _allowed.Count <= 12 ? string.Join(", ", _allowed.Order(StringComparer.Ordinal))
        : $"{string.Join(", ", _allowed.Where(g => !g.StartsWith("torch.", StringComparison.Ordinal) || g.Contains("._", StringComparison.Ordinal)).Order(StringComparer.Ordinal))} and torch's storage classes (README, \"Untrusted files\")";

    private object? Reduce(object? callable, object? args)
    {
        if (callable is not PyGlobal g) throw Fail($"REDUCE of {Describe(callable)}, which is not a global");
        var a = args as PyTuple ?? throw Fail($"REDUCE of {g} with {Describe(args)} for arguments, not a tuple");
        if (g.Is("collections", "OrderedDict") && (a.Count == 0 || a is { Count: 1 } && a[0] is List<object?> or PyTuple))
        {
            var dict = new PyDict { Ordered = true };
            if (a.Count > 0)
                foreach (var pair in a[0] is PyTuple items ? items.Items : (List<object?>)a[0]!)
                    if (pair is PyTuple { Count: 2 } kv) dict.Set(kv[0], kv[1]);
                    else throw Fail($"collections.OrderedDict of {Describe(pair)}, not a (key, value) pair");
            return dict;
        }
        if ((g.IsBuiltin("set") || g.IsBuiltin("frozenset")) && (a.Count == 0 || a is { Count: 1 } && a[0] is List<object?>))
            return new PySet(a.Count > 0 ? [.. (List<object?>)a[0]!] : []);   // a copy, as set(list) is
        if ((g.IsBuiltin("bytearray") || g.IsBuiltin("bytes")) && a.Count <= 1)
        {
            if (a.Count == 0) return Array.Empty<byte>();
            if (a[0] is byte[] raw) return raw;
            if (a[0] is string s) return s.All(c => c <= 0xFF) ? Encoding.Latin1.GetBytes(s) : throw Fail($"{g} of a string that is not Latin-1");
        }
        if (g.Is("_codecs", "encode") && a.Count == 2 && a[0] is string text && a[1] is string encoding)
            return encoding.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant() is "latin1" or "latin" or "iso88591"
                ? (text.All(c => c <= 0xFF) ? Encoding.Latin1.GetBytes(text) : throw Fail("_codecs.encode of a string that is not Latin-1"))
                : Encoding.UTF8.GetBytes(text);
        if (g.Is("torch", "Size") && a.Count == 1 && a[0] is PyTuple size) return size;
        if (g.Module == "torch._utils")
        {
            switch (g.Name)
            {
                case "_rebuild_tensor_v2" or "_rebuild_tensor" when a.Count >= 4:
                    return new TorchTensorRef(
                        a[0] as TorchStorageRef ?? throw Fail($"{g} of something that is not a storage ({Describe(a[0])})"),
                        AsLong(a[1]), Longs(a[2]), Longs(a[3]), a.Count > 4 && a[4] is true);
                case "_rebuild_parameter" or "_rebuild_parameter_with_state" when a.Count >= 1 && a[0] is TorchTensorRef tensor:
                    return tensor;
            }
        }
        if (PickleGlobals.DeepSpeedRecords.Contains(g.ToString())) return new PyObject(g, args);
        throw Fail($"REDUCE of {g} with {Describe(a)} is refused: it is not how a state dict uses {g}");
    }

    private object Instantiate(object? cls, object? args)
    {
        if (cls is PyGlobal g)
        {
            if (g.Is("collections", "OrderedDict")) return new PyDict { Ordered = true };
            if (g.IsBuiltin("set") || g.IsBuiltin("frozenset")) return new PySet([]);
            if (PickleGlobals.DeepSpeedRecords.Contains(g.ToString())) return new PyObject(g, args);
        }
        throw Fail($"NEWOBJ of {Describe(cls)} is refused: only an OrderedDict, a set or a record a DeepSpeed file carries is built this way");
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyObject o: o.State = state; break;
            case PyDict d: d.State = state; break;   // attributes of a dict subclass, e.g. state_dict()._metadata
            case TorchTensorRef: break;             // a tensor's Python attributes: nothing the weights need
            default: throw Fail($"BUILD (setting the state) of {Describe(target)} is refused: only dicts, tensors and inert records take state");
        }
    }

    // A tuple of these items: at most MaxDepth deep, and one instance per value (an equal tuple built again is the first
    // one), so comparing keys never walks two equal trees.
    private PyTuple Tuple(List<object?> items)
    {
        var tuple = new PyTuple(items);
        if (tuple.Depth > MaxDepth) throw Fail($"tuples nested {tuple.Depth} deep; at most {MaxDepth} are read");
        if (_tuples.TryGetValue(tuple, out var existing)) return existing;
        _tuples.Add(tuple);
        return tuple;
    }

    private void Append(object? target, List<object?> items)
    {
        switch (target)
        {
            case List<object?> list: list.AddRange(items); break;
            case PySet set: set.Items.AddRange(items); break;
            case PyObject o: o.Items.AddRange(items); break;
            default: throw Fail($"APPEND to {Describe(target)}");
        }
    }

    private void SetItems(object? target, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Fail("SETITEMS with an odd number of values");
        switch (target)
        {
            case PyDict dict:
                for (var i = 0; i < items.Count; i += 2) dict.Set(items[i], items[i + 1]);
                break;
            case PyObject o:
                for (var i = 0; i < items.Count; i += 2) o.Items.Add(new PyTuple([items[i], items[i + 1]]));
                break;
            default: throw Fail($"SETITEM on {Describe(target)}");
        }
    }

    private void AddItems(object? target, List<object?> items)
    {
        if (target is PySet set) set.Items.AddRange(items);
        else throw Fail($"ADDITEMS on {Describe(target)}");
    }

    private static object Integer(BigInteger value) => value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;

    private object ParseIntLine(string line) => line switch
    {
        "01" => true,   // protocol 0 spells booleans as INT 01 / 00
        "00" => false,
        _ => ParseInteger(line, "INT"),
    };

    private object ParseInteger(string text, string opcode)
    {
        if (text.Length > MaxIntegerDigits + 1) throw Fail($"{opcode} has {text.Length} characters; integers of more than {MaxIntegerDigits} digits are refused");
        return BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? Integer(value) : throw Fail($"{opcode} argument {Describe(text)} is not an integer");
    }

    private double ParseFloat(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : throw Fail($"FLOAT argument {Describe(text)} is not a number");

    private int IntegerLength(int bytes) =>
        bytes <= MaxIntegerBytes ? bytes : throw Fail($"a {bytes:N0}-byte integer; integers of more than {MaxIntegerDigits} digits are refused");

    private long AsLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw Fail($"expected an integer, found {Describe(value)}"),
    };

    private long[] Longs(object? value) => value is PyTuple t ? t.Items.Select(AsLong).ToArray()
        : value is List<object?> l ? l.Select(AsLong).ToArray() : throw Fail($"expected a tuple of integers, found {Describe(value)}");

    private string AsString(object? value) => value as string ?? throw Fail($"expected a string, found {Describe(value)}");

    internal static string Describe(object? value) => value switch
    {
        null => "None",
        string s => s.Length <= 64 ? $"'{s}'" : $"'{s[..64]}…' ({s.Length:N0} characters)",
        long or double or bool or BigInteger => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        byte[] b => $"bytes[{b.Length}]",
        PyTuple t => $"tuple of {t.Count}",
        List<object?> l => $"list of {l.Count}",
        PyDict d => $"{(d.Ordered ? "OrderedDict" : "dict")} of {d.Count}",
        PySet s => $"set of {s.Items.Count}",
        PyObject o => o.ToString(),
        PyGlobal g => g.ToString(),
        TorchTensorRef t => $"tensor {t.Storage.Type}[{string.Join(", ", t.Shape)}]",
        TorchStorageRef s => s.Type,
        _ => value.GetType().Name,
    };

    private object? Memo(long key) => _memo.TryGetValue(key, out var value) ? value : throw Fail($"memo entry {key} was never stored");

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek())) throw Fail("stack underflow");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Top(int below = 0) => _stack.Count > below ? _stack[^(below + 1)] : throw Fail("stack underflow");

    private List<object?> PopN(int n)
    {
        // Never below the innermost MARK: its items belong to the opcode that pops to it.
        if (_stack.Count - n < (_marks.Count > 0 ? _marks.Peek() : 0)) throw Fail("stack underflow");
        var items = _stack.GetRange(_stack.Count - n, n);
        _stack.RemoveRange(_stack.Count - n, n);
        return items;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Fail("no MARK to pop to");
        var at = _marks.Pop();
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private int ReadByte() => _input.ReadByte() is var b and >= 0 ? b : throw Fail("the pickle ended inside an opcode");

    private int ReadLength(int bytes)
    {
        var raw = ReadBytes(bytes);
        var length = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(raw) : BinaryPrimitives.ReadUInt64LittleEndian(raw);
        return length <= int.MaxValue ? (int)length : throw Fail($"a {length:N0}-byte value is too large");
    }

    private byte[] ReadBytes(int count)
    {
        // A length read from the file is checked against what is left before anything of that size is allocated.
        if (_input.CanSeek && count > _input.Length - _input.Position) throw Fail("the pickle ended inside an opcode");
        var bytes = new byte[count];
        if (_input.ReadAtLeast(bytes, count, throwOnEndOfStream: false) < count) throw Fail("the pickle ended inside an opcode");
        return bytes;
    }

    private string ReadLine() => Encoding.UTF8.GetString(ReadLineBytes()).TrimEnd('\r');

    private byte[] ReadLineBytes()
    {
        var bytes = new List<byte>();
        while (true)
        {
            var b = ReadByte();
            if (b == '\n') return [.. bytes];
            bytes.Add((byte)b);
        }
    }

    private static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    // Protocol 0 STRING: a Python repr in quotes; the escapes repr produces are undone.
    private string Unquote(string line)
    {
        if (line.Length < 2 || line[0] != line[^1] || line[0] is not ('\'' or '"')) throw Fail($"STRING argument {Describe(line)} is not quoted");
        try
        {
            return System.Text.RegularExpressions.Regex.Unescape(line[1..^1]);
        }
        catch (ArgumentException)
        {
            throw Fail($"STRING argument {Describe(line)} has an escape Python's repr does not write");
        }
    }

    // raw-unicode-escape: Latin-1 characters as they are, everything else (and \\, \n, \r) as \uXXXX or \UXXXXXXXX.
    private string RawUnicodeEscape(string line) =>
        System.Text.RegularExpressions.Regex.Replace(line, @"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})", m =>
        {
            var code = long.Parse(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            // Lone surrogates (Python allows them) become U+FFFD, as in the UTF-8 strings; past U+10FFFF is no character.
            if (code > 0x10FFFF) throw Fail($"UNICODE escape {m.Value} is past U+10FFFF");
            return code is >= 0xD800 and <= 0xDFFF ? "\uFFFD" : char.ConvertFromUtf32((int)code);
        });

    private PickleException Fail(string why) => new(_opcodeAt >= 0 ? $"pickle byte {_opcodeAt}: {why}" : why);
}
