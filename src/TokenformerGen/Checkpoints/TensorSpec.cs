using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>A tensor's name, dtype and shape: what a loader checks before it reads any data.</summary>
/// <param name="Name">The state-dict name.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions (empty for a scalar).</param>
public record TensorSpec(string Name, ScalarType DType, long[] Shape)
{
    /// <summary>The spec of an existing tensor.</summary>
    public static TensorSpec Of(string name, Tensor tensor) => new(name, tensor.dtype, tensor.shape);

    /// <summary>Number of elements (the product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    /// <summary>Size of the data in bytes.</summary>
    public long ByteLength => checked(ElementCount * SafeTensorsDType.ItemSize(DType));

    /// <summary>The shape as text, e.g. <c>[4, 8]</c>.</summary>
    public string ShapeText => Shapes.Format(Shape);

    /// <summary>The name, dtype and shape, e.g. <c>mlp.key_param_tokens F32 [8, 4]</c>.</summary>
    public sealed override string ToString() => $"{Name} {SafeTensorsDType.DisplayName(DType)} {ShapeText}";

}

/// <summary>
/// A tensor as described by a safetensors header: its spec and its byte range
/// <c>[DataBegin, DataEnd)</c>, relative to the start of the data region (after the header).
/// </summary>
/// <param name="Name">The tensor name.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="DataBegin">First byte, relative to the data region.</param>
/// <param name="DataEnd">One past the last byte, relative to the data region.</param>
public sealed record SafeTensorInfo(string Name, ScalarType DType, long[] Shape, long DataBegin, long DataEnd)
    : TensorSpec(Name, DType, Shape);
