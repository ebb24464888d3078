using TokenformerGen.Onnx.Proto;
using AttributeType = TokenformerGen.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace TokenformerGen.Onnx;

/// <summary>
/// A tensor of an <see cref="OnnxGraph"/> under construction: a graph input, an initializer or a node's output. Its
/// operators and methods add opset-17 nodes to that graph and return their outputs, in the vocabulary of TorchSharp's
/// tensors (<c>a + b</c>, <c>MatMul</c>, <c>Transpose</c>, <c>Softmax</c>), so export code mirrors the forward.
/// </summary>
public sealed class OnnxValue
{
    internal OnnxValue(OnnxGraph graph, string name)
    {
        Graph = graph;
        Name = name;
    }

    /// <summary>The graph the value belongs to.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The value's name in the graph.</summary>
    public string Name { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>Elementwise sum (broadcasting).</summary>
    public static OnnxValue operator +(OnnxValue a, OnnxValue b) => a.Binary("Add", b);

    /// <summary>Elementwise difference (broadcasting).</summary>
    public static OnnxValue operator -(OnnxValue a, OnnxValue b) => a.Binary("Sub", b);

    /// <summary>Elementwise product (broadcasting).</summary>
    public static OnnxValue operator *(OnnxValue a, OnnxValue b) => a.Binary("Mul", b);

    /// <summary>Elementwise quotient (broadcasting).</summary>
    public static OnnxValue operator /(OnnxValue a, OnnxValue b) => a.Binary("Div", b);

    /// <summary>Adds a float32 scalar.</summary>
    public static OnnxValue operator +(OnnxValue a, float b) => a + a.Graph.Scalar(b);

    /// <summary>Multiplies by a float32 scalar.</summary>
    public static OnnxValue operator *(OnnxValue a, float b) => a * a.Graph.Scalar(b);

    /// <summary>Divides by a float32 scalar.</summary>
    public static OnnxValue operator /(OnnxValue a, float b) => a / a.Graph.Scalar(b);

    /// <summary>Elementwise negation.</summary>
    public static OnnxValue operator -(OnnxValue a) => a.Unary("Neg");

    /// <summary>Matrix product over the last two dims, broadcasting the rest (<c>MatMul</c>).</summary>
    public OnnxValue MatMul(OnnxValue other) => Binary("MatMul", other);

    /// <summary>The dims in the order <paramref name="permutation"/> gives.</summary>
    public OnnxValue Transpose(params long[] permutation) => Graph.Node("Transpose", [this], Ints("perm", permutation));

    /// <summary>The same elements in <paramref name="shape"/> (0 keeps the input's dim, -1 takes what is left).</summary>
    public OnnxValue Reshape(params long[] shape) => Graph.Node("Reshape", [this, Graph.Int64s(shape)]);

    /// <summary>Elements <c>[start, start + length)</c> along <paramref name="axis"/>, like TorchSharp's <c>narrow</c>.</summary>
    public OnnxValue Narrow(long axis, long start, long length)
        => Graph.Node("Slice", [this, Graph.Int64s([start]), Graph.Int64s([start + length]), Graph.Int64s([axis])]);

    /// <summary>Rows of this table (axis 0) at <paramref name="indices"/> (<c>Gather</c>): the result has the indices' shape plus the row's.</summary>
    public OnnxValue Gather(OnnxValue indices) => Graph.Node("Gather", [this, indices], Int("axis", 0));

    /// <summary>Inserts a dim of size 1 at <paramref name="axis"/>.</summary>
    public OnnxValue Unsqueeze(long axis) => Graph.Node("Unsqueeze", [this, Graph.Int64s([axis])]);

    /// <summary>Dims <c>[start, end)</c> of this value's shape, as an int64 vector (<c>Shape</c>, opset 15).</summary>
    public OnnxValue Shape(long start, long end) => Graph.Node("Shape", [this], Int("start", start), Int("end", end));

    /// <summary>Softmax along <paramref name="axis"/>.</summary>
    public OnnxValue Softmax(long axis) => Graph.Node("Softmax", [this], Int("axis", axis));

    /// <summary>√(Σ x²) along the last dim, kept as a dim of size 1.</summary>
    public OnnxValue L2NormLastDim() => Graph.Node("ReduceL2", [this], Ints("axes", [-1]), Int("keepdims", 1));

    /// <summary>Σ x² along the last dim, kept as a dim of size 1.</summary>
    public OnnxValue SumOfSquaresLastDim() => Graph.Node("ReduceSumSquare", [this], Ints("axes", [-1]), Int("keepdims", 1));

    /// <summary>Elementwise 1 / x.</summary>
    public OnnxValue Reciprocal() => Unary("Reciprocal");

    /// <summary>Elementwise square root.</summary>
    public OnnxValue Sqrt() => Unary("Sqrt");

    /// <summary>
    /// The exact (erf) GeLU, <c>(x · ½) · (1 + erf(x / √2))</c>, spelt as ONNX Runtime's Gelu fusion expects it, so the
    /// runtime computes it as one kernel; opset 17 has no Gelu operator.
    /// </summary>
    public OnnxValue Gelu() => this * 0.5f * ((this / MathF.Sqrt(2f)).Unary("Erf") + 1f);

    /// <summary>
    /// LayerNorm over the last dim (<c>LayerNormalization</c>, opset 17; statistics in float32): <c>(x − mean) / √(var + ε)
    /// · scale + bias</c>, with the biased variance.
    /// </summary>
    public OnnxValue LayerNorm(OnnxValue scale, OnnxValue? bias, double epsilon)
        => Graph.Node("LayerNormalization", bias is null ? [this, scale] : [this, scale, bias], Int("axis", -1), Float("epsilon", (float)epsilon));

    /// <summary>Elementwise <c>this ≤ other</c> (broadcasting), a bool tensor.</summary>
    public OnnxValue LessOrEqual(OnnxValue other) => Binary("LessOrEqual", other);

    /// <summary>Elementwise <c>this &gt; other</c> (broadcasting), a bool tensor.</summary>
    public OnnxValue Greater(OnnxValue other) => Binary("Greater", other);

    /// <summary>Elementwise <c>this = other</c> (broadcasting), a bool tensor.</summary>
    public OnnxValue Equal(OnnxValue other) => Binary("Equal", other);

    /// <summary>Elementwise logical or of two bool tensors (broadcasting).</summary>
    public OnnxValue Or(OnnxValue other) => Binary("Or", other);

    /// <summary>Elementwise logical and of two bool tensors (broadcasting).</summary>
    public OnnxValue And(OnnxValue other) => Binary("And", other);

    /// <summary>Elementwise maximum (broadcasting).</summary>
    public OnnxValue Max(OnnxValue other) => Binary("Max", other);

    /// <summary>Running sums along <paramref name="axis"/> (<c>CumSum</c>): element i is the sum of elements 0 .. i.</summary>
    public OnnxValue CumSum(long axis) => Graph.Node("CumSum", [this, Graph.Int64s([axis], scalar: true)]);

    /// <summary>Elements <c>[start, end)</c> along <paramref name="axis"/>, the bounds given as int64 graph values of one element.</summary>
    public OnnxValue Slice(long axis, OnnxValue start, OnnxValue end) => Graph.Node("Slice", [this, start, end, Graph.Int64s([axis])]);

    /// <summary>Where <paramref name="condition"/> holds, this value; elsewhere <paramref name="otherwise"/> (broadcasting).</summary>
    public OnnxValue Where(OnnxValue condition, OnnxValue otherwise) => Graph.Node("Where", [condition, this, otherwise]);

    /// <summary>The elements converted to <paramref name="type"/> (<c>Cast</c>).</summary>
    public OnnxValue Cast(OnnxType type) => Graph.Node("Cast", [this], Int("to", (long)type));

    /// <summary>This value broadcast to <paramref name="shape"/>, an int64 vector (<c>Expand</c>).</summary>
    public OnnxValue Expand(OnnxValue shape) => Graph.Node("Expand", [this, shape]);

    /// <summary>Joins <paramref name="values"/> along <paramref name="axis"/>.</summary>
    public static OnnxValue Concat(long axis, params OnnxValue[] values) => values[0].Graph.Node("Concat", values, Int("axis", axis));

    /// <summary><c>start, start + 1, …, limit − 1</c> of int64 scalars (<c>Range</c>).</summary>
    public static OnnxValue Range(OnnxValue start, OnnxValue limit) => start.Graph.Node("Range", [start, limit, start.Graph.Int64s([1], scalar: true)]);

    private OnnxValue Unary(string op) => Graph.Node(op, [this]);

    private OnnxValue Binary(string op, OnnxValue other) => Graph.Node(op, [this, other]);

    private static AttributeProto Int(string name, long value) => IntAttribute(name, value);

    private static AttributeProto Float(string name, float value) => FloatAttribute(name, value);

    /// <summary>An integer attribute of a node.</summary>
    internal static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    /// <summary>A float attribute of a node.</summary>
    internal static AttributeProto FloatAttribute(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
