using System.Text;

namespace TokenformerGen.Tests.Checkpoints;

/// <summary>Pickle bytes written opcode by opcode, for the refusal tests (PROTO 2 first, as torch.save writes).</summary>
internal sealed class PickleBytes
{
    private readonly List<byte> _bytes = [0x80, 2];   // PROTO 2, as torch.save writes

    public PickleBytes Op(params byte[] ops) { _bytes.AddRange(ops); return this; }

    public PickleBytes Line(string text) { _bytes.AddRange(Encoding.UTF8.GetBytes(text + "\n")); return this; }

    public PickleBytes Global(string module, string name) => Op(0x63).Line(module).Line(name);

    public PickleBytes Text(string text)   // BINUNICODE
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        _bytes.Add(0x58);
        _bytes.AddRange(BitConverter.GetBytes(utf8.Length));
        _bytes.AddRange(utf8);
        return this;
    }

    public PickleBytes Int(int value) { _bytes.Add(0x4a); _bytes.AddRange(BitConverter.GetBytes(value)); return this; }

    public byte[] Stop() => [.. _bytes, 0x2e];
}


/// <summary>A torch.save zip around a hand-written pickle: the state dict {"w": one float32 view of storage "0"}.</summary>
internal static class CraftedTorchFile
{
    /// <summary>The pickle of an OrderedDict holding one tensor, a view (offset, shape, stride) of a float storage of <paramref name="numel"/> elements.</summary>
    public static byte[] StateDictPickle(long numel, int offset, int[] shape, int[] stride)
    {
        var p = new PickleBytes().Global("collections", "OrderedDict").Op(0x29, 0x52).Text("w")
            .Global("torch._utils", "_rebuild_tensor_v2").Op(0x28)
            .Op(0x28).Text("storage").Global("torch", "FloatStorage").Text("0").Text("cpu").Op(0x8a, 8).Op(BitConverter.GetBytes(numel)).Op(0x74, 0x51)
            .Int(offset).Op(0x28);
        foreach (var d in shape) p.Int(d);
        p.Op(0x74, 0x28);
        foreach (var s in stride) p.Int(s);
        p.Op(0x74, 0x89).Global("collections", "OrderedDict").Op(0x29, 0x52, 0x74, 0x52, 0x73);
        return p.Stop();
    }

    /// <summary>Writes the zip: archive/data.pkl, archive/data/0 holding <paramref name="storageBytes"/>, compressed or stored.</summary>
    public static void Write(string path, byte[] pickle, byte[] storageBytes, bool compressStorage = false)
    {
        using var zip = new System.IO.Compression.ZipArchive(File.Create(path), System.IO.Compression.ZipArchiveMode.Create);
        void Record(string name, byte[] bytes, System.IO.Compression.CompressionLevel level)
        {
            using var entry = zip.CreateEntry("archive/" + name, level).Open();
            entry.Write(bytes);
        }
        Record("data.pkl", pickle, System.IO.Compression.CompressionLevel.NoCompression);
        Record("data/0", storageBytes, compressStorage ? System.IO.Compression.CompressionLevel.Optimal : System.IO.Compression.CompressionLevel.NoCompression);
    }
}
