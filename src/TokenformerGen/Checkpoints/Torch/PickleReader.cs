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
/// A pickle virtual machine for protocols 0–5 that builds plain values (<see cref="PyDict"/>, <see cref="PyTuple"/>, lists, strings, numbers …) and never imports
/// or calls anything: the handful of callables a <c>torch.save</c> file needs are interpreted (OrderedDict, set,
/// <c>_codecs.encode</c>, torch tensor rebuilding, <c>torch.Size</c>), and every other class becomes a
/// <see cref="PyObject"/> placeholder, so files holding classes this library knows nothing about (DeepSpeed configs,
/// numpy arrays) still load.
/// </summary>
internal sealed class PickleReader
{
    private readonly Stream _input;
    private readonly Func<PyTuple, object?> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private long _opcodeAt;

    private PickleReader(Stream input, Func<PyTuple, object?> persistentLoad)
    {
        _input = input;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickled value from <paramref name="input"/>.</summary>
    /// <param name="input">The pickle bytes.</param>
    /// <param name="persistentLoad">Resolves a persistent id (torch: a storage reference tuple).</param>
    /// <exception cref="PickleException">A malformed pickle or an opcode this reader does not support.</exception>
    public static object? Load(Stream input, Func<PyTuple, object?> persistentLoad) => new PickleReader(input, persistentLoad).Run();

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
                case 0x4c: Push(Integer(BigInteger.Parse(ReadLine().TrimEnd('L'), CultureInfo.InvariantCulture))); break; // LONG
                case 0x8a: Push(Integer(new BigInteger(ReadBytes(ReadByte()), isUnsigned: false, isBigEndian: false))); break; // LONG1
                case 0x8b: Push(Integer(new BigInteger(ReadBytes(ReadLength(4)), isUnsigned: false, isBigEndian: false))); break; // LONG4
                case 0x46: Push(double.Parse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture)); break; // FLOAT
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
                case 0x74: Push(new PyTuple(PopMark())); break;                // TUPLE
                case 0x85: Push(new PyTuple(PopN(1))); break;                  // TUPLE1
                case 0x86: Push(new PyTuple(PopN(2))); break;                  // TUPLE2
                case 0x87: Push(new PyTuple(PopN(3))); break;                  // TUPLE3
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
                case 0x67: Push(Memo(long.Parse(ReadLine(), CultureInfo.InvariantCulture))); break; // GET
                case 0x68: Push(Memo(ReadByte())); break;                      // BINGET
                case 0x6a: Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case 0x63: Push(new PyGlobal(ReadLine(), ReadLine())); break;  // GLOBAL
                case 0x93: { var name = Pop(); var module = Pop(); Push(new PyGlobal(AsString(module), AsString(name))); break; } // STACK_GLOBAL
                case 0x52: { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args)); break; } // REDUCE
                case 0x81: { var args = Pop(); var cls = Pop(); Push(Instantiate(cls, args)); break; } // NEWOBJ
                case 0x92: { Pop(); var args = Pop(); var cls = Pop(); Push(Instantiate(cls, args)); break; } // NEWOBJ_EX (kwargs dropped)
                case 0x6f: { var items = PopMark(); Push(Instantiate(items.Count > 0 ? items[0] : null, new PyTuple(items.Skip(1).ToList()))); break; } // OBJ
                case 0x69: { var cls = new PyGlobal(ReadLine(), ReadLine()); Push(Instantiate(cls, new PyTuple(PopMark()))); break; } // INST
                case 0x62: { var state = Pop(); Build(Top(), state); break; }  // BUILD
                case 0x50: Push(_persistentLoad(new PyTuple([ReadLine()]))); break; // PERSID
                case 0x51: Push(_persistentLoad(Pop() as PyTuple ?? throw Fail("BINPERSID id is not a tuple"))); break; // BINPERSID
                case 0x82 or 0x83 or 0x84: throw Fail("the copyreg extension registry (EXT1/EXT2/EXT4) is not supported");
                case 0x97 or 0x98: throw Fail("out-of-band buffers (protocol 5) are not supported");
                default: throw Fail($"unknown opcode 0x{op:X2}");
            }
        }
    }

    private object? Reduce(object? callable, object? args)
    {
        var a = args as PyTuple ?? PyTuple.Empty;
        if (callable is not PyGlobal g) return new PyObject(null, args);
        if (g.Is("collections", "OrderedDict"))
        {
            var dict = new PyDict { Ordered = true };
            if (a.Count > 0 && a[0] is List<object?> pairs)
                foreach (var pair in pairs)
                    if (pair is PyTuple { Count: 2 } kv) dict.Set(kv[0], kv[1]);
            return dict;
        }
        if (g.IsBuiltin("set") || g.IsBuiltin("frozenset")) return new PySet(a.Count > 0 && a[0] is List<object?> items ? items : []);
        if (g.IsBuiltin("bytearray") || g.IsBuiltin("bytes"))
            return a.Count == 0 ? Array.Empty<byte>() : a[0] is byte[] raw ? raw : a[0] is string s ? Encoding.Latin1.GetBytes(s) : new PyObject(g, args);
        if (g.Is("_codecs", "encode") && a.Count == 2 && a[0] is string text && a[1] is string encoding)
            return encoding.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant() is "latin1" or "latin" or "iso88591"
                ? Encoding.Latin1.GetBytes(text) : Encoding.UTF8.GetBytes(text);
        if (g.Name == "_reconstructor" && g.Module is "copyreg" or "copy_reg" && a.Count > 0)   // protocols 0 and 1 build instances this way
            return new PyObject(a[0] as PyGlobal, args);
        if (g.Is("torch", "Size")) return a.Count > 0 && a[0] is PyTuple size ? size : PyTuple.Empty;
        if (g.Module == "torch._utils")
        {
            switch (g.Name)
            {
                case "_rebuild_tensor_v2" or "_rebuild_tensor" when a.Count >= 4:
                    return new TorchTensorRef(
                        a[0] as TorchStorageRef ?? throw Fail($"{g} of something that is not a storage ({Describe(a[0])})"),
                        AsLong(a[1]), Longs(a[2]), Longs(a[3]), a.Count > 4 && a[4] is true);
                case "_rebuild_parameter" or "_rebuild_parameter_with_state" when a.Count >= 1:
                    return a[0];
            }
        }
        return new PyObject(g, args);
    }

    private static object Instantiate(object? cls, object? args)
    {
        if (cls is PyGlobal g)
        {
            if (g.Is("collections", "OrderedDict")) return new PyDict { Ordered = true };
            if (g.IsBuiltin("dict")) return new PyDict();
            if (g.IsBuiltin("set") || g.IsBuiltin("frozenset")) return new PySet([]);
            if (g.IsBuiltin("list")) return new List<object?>();
        }
        return new PyObject(cls as PyGlobal, args);
    }

    private static void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyObject o: o.State = state; break;
            case PyDict d: d.State = state; break;   // attributes of a dict subclass, e.g. state_dict()._metadata
            // Anything else (a rebuilt tensor's Python attributes, ...) carries nothing this reader needs.
        }
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

    private static object ParseIntLine(string line) => line switch
    {
        "01" => true,   // protocol 0 spells booleans as INT 01 / 00
        "00" => false,
        _ => Integer(BigInteger.Parse(line, CultureInfo.InvariantCulture)),
    };

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
        string s => $"'{s}'",
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
        if (_stack.Count < n) throw Fail("stack underflow");
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
        if (line.Length < 2 || line[0] != line[^1] || line[0] is not ('\'' or '"')) throw Fail($"STRING argument {line} is not quoted");
        return System.Text.RegularExpressions.Regex.Unescape(line[1..^1]);
    }

    // raw-unicode-escape: Latin-1 characters as they are, everything else (and \\, \n, \r) as \uXXXX or \UXXXXXXXX.
    private static string RawUnicodeEscape(string line) =>
        System.Text.RegularExpressions.Regex.Replace(line, @"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})",
            m => char.ConvertFromUtf32(int.Parse(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));

    private PickleException Fail(string why) => new(_opcodeAt >= 0 ? $"pickle byte {_opcodeAt}: {why}" : why);
}
