using System.Globalization;
using Google.Protobuf;
using TokenformerGen.Checkpoints;
using TokenformerGen.Onnx.Proto;
using static TorchSharp.torch;
using DataType = TokenformerGen.Onnx.Proto.TensorProto.Types.DataType;

namespace TokenformerGen.Onnx;

/// <summary>
/// An ONNX inference graph under construction for one model: its typed inputs and outputs, its nodes in the order they
/// were added (a topological order, since a node can only consume values that exist), the model's parameters as
/// initializers named by their state-dict names, and small constants. Modules add themselves through
/// <see cref="OnnxValue"/>, whose operators and methods append nodes here, so an export method reads like the TorchSharp
/// forward it mirrors.
/// </summary>
/// <remarks>
/// Parameters are read when the graph is written, not when they are used, so building a graph copies no weights.
/// </remarks>
public sealed class OnnxGraph
{
    private readonly GraphProto _graph = new();
    private readonly Dictionary<Tensor, string> _parameterNames = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, OnnxValue> _parameters = new(StringComparer.Ordinal);
    private readonly List<(TensorProto Proto, Tensor? Data, byte[]? Bytes)> _weights = [];
    private readonly Dictionary<string, (OnnxValue Data, OnnxValue Scales)> _quantized = new(StringComparer.Ordinal);
    private readonly HashSet<string> _domains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxValue> _constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private string _scope = "";
    private int _nodes;

    /// <summary>
    /// Starts a graph whose weights are <paramref name="parameters"/> (state-dict name and tensor); the matrices read
    /// through <see cref="MatMulTransposed"/>, <see cref="MatMulWeight"/> and <see cref="GatherRows"/> are stored in
    /// <paramref name="precision"/> (int4 in blocks of <paramref name="blockSize"/>).
    /// </summary>
    public OnnxGraph(string name, IEnumerable<(string Name, Tensor Parameter)> parameters, OnnxPrecision precision = OnnxPrecision.Fp32, int blockSize = 32)
    {
        _graph.Name = name;
        Precision = precision;
        BlockSize = blockSize;
        foreach (var (parameterName, parameter) in parameters) _parameterNames.Add(parameter, parameterName);
    }

    /// <summary>Parameters no node has read yet: after a whole model is added, the ones its graph leaves out.</summary>
    public IEnumerable<string> UnusedParameters => _parameterNames.Values.Where(n => !_parameters.ContainsKey(n));

    /// <summary>Nodes added so far.</summary>
    public int NodeCount => _graph.Node.Count;

    /// <summary>How the matrices are stored.</summary>
    public OnnxPrecision Precision { get; }

    /// <summary>Inputs per int4 scale.</summary>
    public int BlockSize { get; }

    /// <summary>Bytes of the weights the graph has read, as stored (quantized matrices with their scales).</summary>
    public long WeightBytes => _weights.Sum(w => w.Bytes?.LongLength ?? w.Data!.NumberOfElements * w.Data.ElementSize);

    /// <summary>Declares a graph input; a dimension is a size (<see cref="long"/>) or a name shared by dimensions of equal size (<see cref="string"/>).</summary>
    public OnnxValue Input(string name, OnnxType type, params object[] shape)
    {
        _graph.Input.Add(ValueInfo(Claim(name), type, shape));
        return new OnnxValue(this, name);
    }

    /// <summary>Makes <paramref name="value"/> a graph output named <paramref name="name"/> (an Identity node renames it when it has another name).</summary>
    public void Output(OnnxValue value, string name, OnnxType type, params object[] shape)
    {
        if (value.Name != name) Node("Identity", [value], [name]);
        _graph.Output.Add(ValueInfo(name, type, shape));
    }

    /// <summary>
    /// The initializer holding <paramref name="parameter"/>, under its state-dict name; the first read adds it. The
    /// tensor must be one of the parameters the graph was made with (float32 master weights, on any device).
    /// </summary>
    public OnnxValue Weight(Tensor parameter)
    {
        if (!_parameterNames.TryGetValue(parameter, out var name))
            throw new ArgumentException("The tensor is not a parameter of the model this graph exports.", nameof(parameter));
        if (_parameters.TryGetValue(name, out var existing)) return existing;
        if (parameter.dtype != ScalarType.Float32)
            throw new ArgumentException($"{name} is {parameter.dtype}; the graph is float32 (export float32 master weights).", nameof(parameter));
        var proto = new TensorProto { Name = Claim(name), DataType = (int)DataType.Float };
        proto.Dims.AddRange(parameter.shape);
        _weights.Add((proto, parameter, null));
        return _parameters[name] = new OnnxValue(this, name);
    }

    /// <summary>
    /// <c>x · Wᵀ</c> for a parameter <c>W [N, K]</c> whose rows are the output features (a Pattention's key tokens, the
    /// tied head's embedding): float32 <c>MatMul</c> with the transposed initializer; int8 <c>DynamicQuantizeLinear</c> of
    /// x, <c>MatMulInteger</c> with the int8 weights and both scales (per tensor for x, per output channel for W); int4
    /// <c>MatMulNBits</c> (accuracy level 4).
    /// </summary>
    public OnnxValue MatMulTransposed(OnnxValue x, Tensor weight)
        => Precision == OnnxPrecision.Fp32 ? x.MatMul(Weight(weight).Transpose(1, 0)) : QuantizedMatMul(x, weight, transposed: true);

    /// <summary>
    /// <c>x · W</c> for a parameter <c>W [K, N]</c> (a Pattention's value tokens); quantized exports store it transposed,
    /// <c>[N, K]</c>, and multiply as <see cref="MatMulTransposed"/> does.
    /// </summary>
    public OnnxValue MatMulWeight(OnnxValue x, Tensor weight)
        => Precision == OnnxPrecision.Fp32 ? x.MatMul(Weight(weight)) : QuantizedMatMul(x, weight, transposed: false);

    /// <summary>
    /// Rows of the parameter <paramref name="table"/> <c>[rows, d]</c> at <paramref name="indices"/> <c>[batch, sequence]</c>
    /// (int64), as float32 <c>[batch, sequence, d]</c>: <c>Gather</c>; int8 gathers int8 rows and their scales from the
    /// initializers <see cref="MatMulTransposed"/> uses for the same table (a tied head shares them);
    /// int4 <c>GatherBlockQuantized</c> on <c>MatMulNBits</c>' blocks, reshaped.
    /// </summary>
    /// <exception cref="OnnxExportException">int4 asked of a table whose width is not a whole number of blocks.</exception>
    public OnnxValue GatherRows(Tensor table, OnnxValue indices)
    {
        if (Precision == OnnxPrecision.Fp32) return Weight(table).Gather(indices);
        var (rows, width) = (table.shape[0], table.shape[1]);
        var (data, scales) = Quantized(table, transposed: true);
        if (Precision == OnnxPrecision.Int8)
        {
            // The rows again, [rows, d] int8 with the head's per-row scales, so a lookup reads one contiguous row and the
            // head's [d, rows] matrix is read by its product alone.
            var rowsData = Blob(NameOf(table) + ".int8.rows", DataType.Int8, [rows, width], Int8Rows(table));
            return Node("Cast", [rowsData.Gather(indices)], OnnxValue.IntAttribute("to", (long)TensorProto.Types.DataType.Float)) * scales.Gather(indices).Unsqueeze(-1);
        }
        if (width % BlockSize != 0)
            throw new OnnxExportException($"{NameOf(table)} is {width} wide, not a whole number of int4 blocks of {BlockSize}: GatherBlockQuantized cannot read it; choose a block that divides {width}");
        var packed = data.Reshape(rows, width / 2);
        var blockScales = scales.Reshape(rows, width / BlockSize);
        return Node("GatherBlockQuantized", [packed, indices, blockScales], new string?[] { null }, MicrosoftDomain,
                    OnnxValue.IntAttribute("gather_axis", 0), OnnxValue.IntAttribute("quantize_axis", 1), OnnxValue.IntAttribute("block_size", BlockSize), OnnxValue.IntAttribute("bits", 4))[0];
    }

    private OnnxValue QuantizedMatMul(OnnxValue x, Tensor weight, bool transposed)
    {
        var (data, scales) = Quantized(weight, transposed);
        var (n, k) = transposed ? (weight.shape[0], weight.shape[1]) : (weight.shape[1], weight.shape[0]);
        if (Precision == OnnxPrecision.Int8)
        {
            // x quantized to uint8 per tensor at run time, an int8 · int8 product in int32, both scales applied after: the
            // pattern ONNX Runtime fuses into one kernel (MatMulIntegerToFloat). DequantizeLinear → MatMul, the other
            // standard spelling, ran at 0.35× fp32 here (figure 10c).
            var quantized = Node("DynamicQuantizeLinear", [x], new string?[] { null, null, null }, "");
            var product = Node("MatMulInteger", [quantized[0], data, quantized[2]]);
            return Node("Cast", [product], OnnxValue.IntAttribute("to", (long)TensorProto.Types.DataType.Float)) * (quantized[1] * scales);
        }
        return Node("MatMulNBits", [x, data, scales], new string?[] { null }, MicrosoftDomain,
                    OnnxValue.IntAttribute("K", k), OnnxValue.IntAttribute("N", n), OnnxValue.IntAttribute("bits", 4), OnnxValue.IntAttribute("block_size", BlockSize), OnnxValue.IntAttribute("accuracy_level", 4))[0];
    }

    // The quantized initializers of a parameter, made on first use: W [N, K] is the parameter itself when `transposed`
    // (x · Wᵀ), else its transpose. int8: data [K, N] and scales [N]; int4: data [N, blocks, block / 2] and scales [N · blocks].
    private (OnnxValue Data, OnnxValue Scales) Quantized(Tensor parameter, bool transposed)
    {
        var name = NameOf(parameter);
        if (_quantized.TryGetValue(name, out var existing)) return existing;
        if (parameter.dtype != ScalarType.Float32 || parameter.Dimensions != 2)
            throw new OnnxExportException($"{name} is {parameter.dtype} {string.Join("x", parameter.shape)}; only float32 matrices are quantized");
        float[] rows;
        using (var cpu = TensorBytes.ContiguousCpu(parameter))
        {
            if (transposed) rows = cpu.data<float>().ToArray();
            else
            {
                using var oriented = cpu.t().contiguous();
                rows = oriented.data<float>().ToArray();
            }
        }
        var (n, k) = transposed ? ((int)parameter.shape[0], (int)parameter.shape[1]) : ((int)parameter.shape[1], (int)parameter.shape[0]);
        OnnxValue data, scales;
        if (Precision == OnnxPrecision.Int8)
        {
            var (q, s) = OnnxQuantizer.Int8Channels(rows, n, k);
            data = Blob(name + ".int8", DataType.Int8, [k, n], (byte[])(Array)q);
            scales = Blob(name + ".scales", DataType.Float, [n], [.. s.SelectMany(BitConverter.GetBytes)]);
        }
        else
        {
            var (q, s) = OnnxQuantizer.Int4Blocks(rows, n, k, BlockSize);
            var blocks = (k + BlockSize - 1) / BlockSize;
            data = Blob(name + ".int4", DataType.Uint8, [n, blocks, BlockSize / 2], q);
            scales = Blob(name + ".scales", DataType.Float, [(long)n * blocks], [.. s.SelectMany(BitConverter.GetBytes)]);
        }
        _parameters[name] = data;
        return _quantized[name] = (data, scales);
    }

    // int8 rows of a table [rows, d], quantized as Int8Channels quantizes the head (the same values, transposed back).
    private static byte[] Int8Rows(Tensor table)
    {
        using var cpu = TensorBytes.ContiguousCpu(table);
        var (rows, width) = ((int)table.shape[0], (int)table.shape[1]);
        var (data, _) = OnnxQuantizer.Int8Channels(cpu.data<float>().ToArray(), rows, width);
        var result = new byte[data.LongLength];
        for (var r = 0; r < rows; r++)
            for (var i = 0; i < width; i++) result[((long)r * width) + i] = (byte)data[((long)i * rows) + r];
        return result;
    }

    // A weight initializer of raw bytes, written with the parameters (inline or external).
    private OnnxValue Blob(string name, DataType type, long[] dims, byte[] bytes)
    {
        var proto = new TensorProto { Name = Claim(name), DataType = (int)type };
        proto.Dims.AddRange(dims);
        _weights.Add((proto, null, bytes));
        return new OnnxValue(this, name);
    }

    private const string MicrosoftDomain = "com.microsoft";

    // The state-dict name of a parameter of the model.
    private string NameOf(Tensor parameter)
        => _parameterNames.TryGetValue(parameter, out var name) ? name : throw new ArgumentException("The tensor is not a parameter of the exported model.", nameof(parameter));

    /// <summary>A float32 scalar constant (one initializer per value).</summary>
    public OnnxValue Scalar(float value) => Constant(FormattableString.Invariant($"const.f32.{value:R}"), DataType.Float, [], BitConverter.GetBytes(value));

    /// <summary>An int64 constant of shape <c>[values.Length]</c>, or a scalar when <paramref name="scalar"/> (one initializer per value).</summary>
    public OnnxValue Int64s(long[] values, bool scalar = false)
    {
        if (scalar && values.Length != 1) throw new ArgumentException("A scalar has one value.", nameof(values));
        var key = $"const.i64{(scalar ? "" : $"[{values.Length}]")}.{string.Join('_', values.Select(v => v.ToString(CultureInfo.InvariantCulture)))}";
        return Constant(key, DataType.Int64, scalar ? [] : [values.Length], values.SelectMany(BitConverter.GetBytes).ToArray());
    }

    /// <summary>
    /// A float32 constant built once per <paramref name="name"/> (later calls return the first one): tables the model
    /// derives rather than learns, such as rotary cosines.
    /// </summary>
    public OnnxValue Constant(string name, Func<Tensor> build)
    {
        if (_constants.TryGetValue(name, out var existing)) return existing;
        using var tensor = build();
        if (tensor.dtype != ScalarType.Float32) throw new ArgumentException($"Constant {name} is {tensor.dtype}, not float32.", nameof(build));
        return Constant(name, DataType.Float, tensor.shape, TensorBytes.ToArray(tensor));
    }

    private OnnxValue Constant(string name, DataType type, long[] dims, byte[] bytes)
    {
        if (_constants.TryGetValue(name, out var existing)) return existing;
        var proto = new TensorProto { Name = Claim(name), DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        proto.Dims.AddRange(dims);
        _graph.Initializer.Add(proto);
        return _constants[name] = new OnnxValue(this, name);
    }

    /// <summary>
    /// Names the nodes added until the returned scope is disposed after the module that holds <paramref name="parameter"/>,
    /// <c>{module}/{op}_{n}</c> (e.g. <c>layers.0.mlp/MatMul_7</c>), for readers of the graph.
    /// </summary>
    public IDisposable ModuleScope(Tensor parameter)
    {
        var name = NameOf(parameter);
        var outer = _scope;
        _scope = name[..Math.Max(0, name.LastIndexOf('.'))] + "/";
        return new ScopeExit(() => _scope = outer);
    }

    /// <summary>Adds a node with one output.</summary>
    internal OnnxValue Node(string op, IReadOnlyList<OnnxValue> inputs, params AttributeProto[] attributes)
        => Node(op, inputs, [null], attributes)[0];

    /// <summary>Adds a node; <paramref name="outputs"/> gives each output's name, or null for a fresh one.</summary>
    internal IReadOnlyList<OnnxValue> Node(string op, IReadOnlyList<OnnxValue> inputs, IReadOnlyList<string?> outputs, params AttributeProto[] attributes)
        => Node(op, inputs, outputs, "", attributes);

    /// <summary>
    /// Adds a node of ONNX Runtime's <c>com.microsoft</c> operators; a null input is an optional input left out (an
    /// empty name), and <paramref name="outputs"/> gives each output's name, or null for a fresh one.
    /// </summary>
    internal IReadOnlyList<OnnxValue> MicrosoftNode(string op, IReadOnlyList<OnnxValue?> inputs, IReadOnlyList<string?> outputs, params AttributeProto[] attributes)
        => Node(op, inputs, outputs, MicrosoftDomain, attributes);

    // A node of operator set `domain` ("" for ai.onnx), which the model then imports; a null input is left out.
    private IReadOnlyList<OnnxValue> Node(string op, IReadOnlyList<OnnxValue?> inputs, IReadOnlyList<string?> outputs, string domain, params AttributeProto[] attributes)
    {
        var name = FormattableString.Invariant($"{_scope}{op}_{_nodes++}");
        var node = new NodeProto { OpType = op, Name = name, Domain = domain };
        if (domain.Length > 0) _domains.Add(domain);
        foreach (var input in inputs)
        {
            if (input is not null && input.Graph != this) throw new ArgumentException($"{op}: input {input.Name} belongs to another graph.", nameof(inputs));
            node.Input.Add(input?.Name ?? "");
        }
        var values = new List<OnnxValue>(outputs.Count);
        for (var i = 0; i < outputs.Count; i++)
        {
            var output = Claim(outputs[i] ?? (outputs.Count == 1 ? name : FormattableString.Invariant($"{name}:{i}")));
            node.Output.Add(output);
            values.Add(new OnnxValue(this, output));
        }
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return values;
    }

    /// <summary>
    /// The graph's structure as text, without weights: its inputs and outputs, then every node in order with its
    /// operator, inputs, outputs and attributes; what a golden file of an export compares, so that a change to the graph
    /// is a reviewable diff.
    /// </summary>
    internal string Structure()
    {
        var text = new System.Text.StringBuilder();
        text.Append("graph ").AppendLine(_graph.Name);
        foreach (var input in _graph.Input) text.Append("input ").AppendLine(Describe(input));
        foreach (var output in _graph.Output) text.Append("output ").AppendLine(Describe(output));
        foreach (var node in _graph.Node)
        {
            text.Append(node.OpType).Append('(').AppendJoin(", ", node.Input).Append(") -> ").AppendJoin(", ", node.Output);
            foreach (var attribute in node.Attribute) text.Append(' ').Append(attribute.Name).Append('=').Append(AttributeText(attribute));
            text.AppendLine();
        }
        return text.ToString();

        static string Describe(ValueInfoProto value)
            => $"{value.Name}: {(DataType)value.Type.TensorType.ElemType} [{string.Join(", ", value.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString(CultureInfo.InvariantCulture)))}]";

        static string AttributeText(AttributeProto attribute) => attribute.Type switch
        {
            AttributeProto.Types.AttributeType.Int => attribute.I.ToString(CultureInfo.InvariantCulture),
            AttributeProto.Types.AttributeType.Float => attribute.F.ToString("R", CultureInfo.InvariantCulture),
            AttributeProto.Types.AttributeType.Ints => "[" + string.Join(", ", attribute.Ints.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]",
            AttributeProto.Types.AttributeType.String => attribute.S.ToStringUtf8(),
            _ => attribute.Type.ToString(),
        };
    }

    /// <summary>
    /// The model: this graph at <paramref name="opset"/> with <paramref name="metadata"/>. Weights are inline, or, with an
    /// <paramref name="externalData"/> stream, written there and referenced from the model as
    /// <paramref name="externalLocation"/>, each at an offset aligned to <paramref name="alignment"/> bytes: ONNX Runtime
    /// maps a tensor from the file instead of copying it when its offset is a multiple of the allocation granularity
    /// (4 KiB on Linux, 64 KiB on Windows).
    /// </summary>
    internal ModelProto ToModel(int opset, long irVersion, IEnumerable<KeyValuePair<string, string>> metadata,
                                Stream? externalData = null, string? externalLocation = null, int alignment = 1 << 16)
    {
        var graph = _graph.Clone();
        var weights = new List<TensorProto>(_weights.Count);
        foreach (var (proto, data, bytes) in _weights)
        {
            var tensor = proto.Clone();
            if (externalData is null)
            {
                tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes ?? TensorBytes.ToArray(data!));
            }
            else
            {
                var padding = (alignment - externalData.Position % alignment) % alignment;
                externalData.Write(new byte[padding]);
                var offset = externalData.Position;
                if (bytes is null) TensorBytes.Write(externalData, data!);
                else externalData.Write(bytes);
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.ExternalData.Add(Entry("location", externalLocation ?? throw new ArgumentNullException(nameof(externalLocation))));
                tensor.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
                tensor.ExternalData.Add(Entry("length", (externalData.Position - offset).ToString(CultureInfo.InvariantCulture)));
            }
            weights.Add(tensor);
        }
        // Parameters first, in the order the forward reads them, then the constants.
        var constants = graph.Initializer.ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(weights);
        graph.Initializer.AddRange(constants);
        var model = new ModelProto
        {
            IrVersion = irVersion,
            ProducerName = "TokenformerGen",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var domain in _domains.Order(StringComparer.Ordinal)) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = 1 });
        foreach (var (key, value) in metadata) model.MetadataProps.Add(Entry(key, value));
        return model;
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };

    // Every value and node name is unique in a graph.
    private string Claim(string name) => _names.Add(name) ? name : throw new InvalidOperationException($"The graph already has a value or node named '{name}'.");

    private static ValueInfoProto ValueInfo(string name, OnnxType type, object[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var dim in shape)
        {
            tensor.Shape.Dim.Add(dim switch
            {
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => throw new ArgumentException($"A dimension is a size or a name, not {dim}.", nameof(shape)),
            });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private sealed class ScopeExit(Action exit) : IDisposable
    {
        public void Dispose() => exit();
    }
}

/// <summary>Element types of graph inputs and outputs; the values are ONNX's <c>TensorProto.DataType</c> codes.</summary>
public enum OnnxType
{
    /// <summary>float32.</summary>
    Float = (int)DataType.Float,
    /// <summary>int64 (token ids).</summary>
    Int64 = (int)DataType.Int64,
    /// <summary>int32 (lengths ONNX Runtime's attention operator reads).</summary>
    Int32 = (int)DataType.Int32,
}
