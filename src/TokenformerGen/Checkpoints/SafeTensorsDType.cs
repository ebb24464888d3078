using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>The safetensors dtype names this library reads and writes, and their TorchSharp types.</summary>
public static class SafeTensorsDType
{
    private static readonly (string Name, ScalarType Type, int Size)[] Known =
    [
        ("F64", ScalarType.Float64, 8),
        ("F32", ScalarType.Float32, 4),
        ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8),
        ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2),
        ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1),
        ("BOOL", ScalarType.Bool, 1),
    ];

    /// <summary>The supported safetensors dtype names, comma-separated (for error messages).</summary>
    public static string SupportedNames => string.Join(", ", Known.Select(k => k.Name));

    /// <summary>The TorchSharp type and item size of a safetensors dtype name; false if unknown.</summary>
    public static bool TryParse(string name, out ScalarType type, out int itemSize)
    {
        foreach (var k in Known)
        {
            if (k.Name != name) continue;
            type = k.Type;
            itemSize = k.Size;
            return true;
        }
        type = default;
        itemSize = 0;
        return false;
    }

    /// <summary>The safetensors name of a TorchSharp type.</summary>
    /// <exception cref="NotSupportedException">The type has no supported safetensors name.</exception>
    public static string NameOf(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Name;
        throw new NotSupportedException($"dtype {type} cannot be stored in safetensors here (supported: {SupportedNames}).");
    }

    /// <summary>The safetensors name of a type when it has one, else the TorchSharp name (for messages).</summary>
    public static string DisplayName(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Name;
        return type.ToString();
    }

    /// <summary>The size in bytes of one element of a supported type.</summary>
    public static int ItemSize(ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Size;
        throw new NotSupportedException($"dtype {type} cannot be stored in safetensors here (supported: {SupportedNames}).");
    }
}
