using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints.Torch;

/// <summary>
/// Writes the values <see cref="PickleReader"/> builds as a protocol-2 pickle, the protocol <c>torch.save</c> uses:
/// None, bool, integers, float, str, tuples, lists, dicts (a <see cref="PyDict"/> with <c>Ordered</c> as
/// <c>collections.OrderedDict</c>) and tensors, which become <c>torch._utils._rebuild_tensor_v2</c> calls on a
/// persistent storage id that <paramref name="storageKey"/> assigns (the caller writes the storage's bytes).
/// </summary>
internal sealed class PickleWriter(Stream output, Func<Tensor, (string StorageType, string Key)> storageKey)
{
    /// <summary>Pickles <paramref name="value"/> (PROTO 2 … STOP).</summary>
    public void Dump(object? value)
    {
        output.WriteByte(0x80);
        output.WriteByte(2);
        Write(value);
        output.WriteByte(0x2e);
    }

    private void Write(object? value)
    {
        switch (value)
        {
            case null: output.WriteByte(0x4e); break;
            case bool b: output.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case int i: WriteInteger(i); break;
            case long l: WriteInteger(l); break;
            case double d:
                output.WriteByte(0x47);
                Span<byte> bytes = stackalloc byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(bytes, d);
                output.Write(bytes);
                break;
            case string s: WriteString(s); break;
            case PyTuple t:
                output.WriteByte(0x28);
                foreach (var item in t.Items) Write(item);
                output.WriteByte(0x74);
                break;
            case List<object?> list:
                output.WriteByte(0x5d);
                if (list.Count == 0) break;
                output.WriteByte(0x28);
                foreach (var item in list) Write(item);
                output.WriteByte(0x65);
                break;
            case PyDict dict:
                if (dict.Ordered) WriteCall("collections", "OrderedDict", PyTuple.Empty);
                else output.WriteByte(0x7d);
                if (dict.Count == 0) break;
                output.WriteByte(0x28);
                foreach (var (key, item) in dict.Items)
                {
                    Write(key);
                    Write(item);
                }
                output.WriteByte(0x75);
                break;
            case Tensor tensor: WriteTensor(tensor); break;
            default: throw new ArgumentException($"cannot pickle a {value.GetType().Name}", nameof(value));
        }
    }

    // What torch.Tensor.__reduce_ex__ produces for a plain CPU tensor with its own storage.
    private void WriteTensor(Tensor tensor)
    {
        var (storageType, key) = storageKey(tensor);
        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        output.WriteByte(0x28);
        // Persistent id ('storage', torch.XStorage, key, 'cpu', numel) → BINPERSID.
        output.WriteByte(0x28);
        WriteString("storage");
        WriteGlobal("torch", storageType);
        WriteString(key);
        WriteString("cpu");
        WriteInteger(tensor.NumberOfElements);
        output.WriteByte(0x74);
        output.WriteByte(0x51);
        WriteInteger(0);
        Write(new PyTuple(tensor.shape.Select(d => (object?)d).ToList()));
        Write(new PyTuple(ContiguousStrides(tensor.shape).Select(d => (object?)d).ToList()));
        Write(false);
        WriteCall("collections", "OrderedDict", PyTuple.Empty);   // backward hooks: none
        output.WriteByte(0x74);
        output.WriteByte(0x52);
    }

    private static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long stride = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    }

    private void WriteCall(string module, string name, PyTuple arguments)
    {
        WriteGlobal(module, name);
        Write(arguments);
        output.WriteByte(0x52);
    }

    private void WriteGlobal(string module, string name)
    {
        output.WriteByte(0x63);
        output.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private void WriteString(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        output.WriteByte(0x58);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)bytes.Length);
        output.Write(length);
        output.Write(bytes);
    }

    private void WriteInteger(long value)
    {
        if (value is >= 0 and <= byte.MaxValue)
        {
            output.WriteByte(0x4b);
            output.WriteByte((byte)value);
        }
        else if (value is >= 0 and <= ushort.MaxValue)
        {
            output.WriteByte(0x4d);
            Span<byte> bytes = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
            output.Write(bytes);
        }
        else if (value is >= int.MinValue and <= int.MaxValue)
        {
            output.WriteByte(0x4a);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)value);
            output.Write(bytes);
        }
        else
        {
            // LONG1: little-endian two's complement, as short as possible.
            var bytes = new System.Numerics.BigInteger(value).ToByteArray();
            output.WriteByte(0x8a);
            output.WriteByte((byte)bytes.Length);
            output.Write(bytes);
        }
    }
}
