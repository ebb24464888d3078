using System.Collections.Generic;
using System.Linq;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// One description of a generated module's forward — its calls, residuals and caches — printed twice: as TorchSharp's
/// <c>forward</c> (in a dispose scope, cast once where Pattentions share an input) and as <c>ToOnnx</c> (the same calls
/// on <c>OnnxValue</c>s). Both methods come from the same statements, so they cannot drift apart.
/// </summary>
/// <param name="Input">The input's name (<c>tokens</c>, <c>x</c>).</param>
/// <param name="Cache">How the module takes its part of the KV cache.</param>
/// <param name="Statements">The body, in order; the last is a <see cref="Return"/>.</param>
internal sealed record Forward(string Input, CacheKind Cache, IReadOnlyList<Forward.Statement> Statements)
{
    /// <summary>A statement of a forward.</summary>
    internal abstract record Statement;

    /// <summary><c>var Name = Value;</c></summary>
    internal sealed record Let(string Name, Expr Value) : Statement;

    /// <summary>
    /// Pattentions reading one input cast it once to their compute type (TorchSharp: <c>using var Name =
    /// Module.InComputeType(Source);</c>); an ONNX graph computes in float32, so there <c>Name</c> is <c>Source</c>.
    /// </summary>
    internal sealed record CastOnce(string Name, string Module, string Source, string Comment) : Statement;

    /// <summary><c>for (var i = 0; i &lt; Layers.Count; i++) Name = Layers[i](Name, cache[i]);</c></summary>
    internal sealed record EachLayer(string Name, string Layers) : Statement;

    /// <summary><c>return Value;</c>, with a comment on the line.</summary>
    internal sealed record Return(Expr Value, string? Comment = null) : Statement;

    /// <summary>An expression of a forward.</summary>
    internal abstract record Expr;

    /// <summary>A local or parameter; <see cref="Cache"/> is the module's cache argument.</summary>
    internal sealed record Var(string Name) : Expr;

    /// <summary>A constant written as is in both methods (a head count, a static field).</summary>
    internal sealed record Constant(string Text) : Expr;

    /// <summary>The module's cache argument.</summary>
    internal sealed record CacheArgument : Expr;

    /// <summary><c>Left + Right</c>: a residual.</summary>
    internal sealed record Sum(Expr Left, Expr Right) : Expr;

    /// <summary>
    /// A child module applied: <c>Module.call(args)</c> and <c>Module.ToOnnx(args)</c>; with a <c>Method</c>,
    /// <c>Module.Method(args)</c> and <c>Module.MethodToOnnx(args)</c>.
    /// </summary>
    internal sealed record Apply(string Module, IReadOnlyList<Expr> Arguments, string? Method = null) : Expr;

    /// <summary>
    /// A static runtime function: <c>Type.Method(args)</c> in both; an ONNX value does not carry its shape, so
    /// <c>OnnxArguments</c> are appended there (a width, say).
    /// </summary>
    internal sealed record Function(string Type, string Method, IReadOnlyList<Expr> Arguments, IReadOnlyList<string> OnnxArguments) : Expr;

    /// <summary>The module's cache argument.</summary>
    public static Expr CacheArg { get; } = new CacheArgument();

    /// <summary>Writes <c>forward</c>, its doc comment and signature included.</summary>
    public void WriteTorch(SourceWriter w, string doc, bool isOverride)
    {
        GeneratedCode.Doc(w, doc);
        w.WriteLine($"public {(isOverride ? "override " : "")}Tensor forward(Tensor {Input}{(Cache.TorchType is null ? "" : $", {Cache.TorchType}? cache")})");
        w.OpenBlock();
        w.WriteLine("using var scope = Torch.NewDisposeScope();");
        foreach (var statement in Statements)
        {
            w.WriteLine(statement switch
            {
                Let let => $"var {let.Name} = {Torch(let.Value)};",
                CastOnce cast => $"using var {cast.Name} = {cast.Module}.InComputeType({cast.Source});   // {cast.Comment}",
                EachLayer each => $"for (var i = 0; i < {each.Layers}.Count; i++) {each.Name} = {each.Layers}[i].call({each.Name}, cache?[i]);",
                Return ret => $"return {Parenthesized(ret.Value, Torch)}.MoveToOuterDisposeScope();{Comment(ret.Comment)}",
                _ => throw Unknown(statement),
            });
        }
        w.CloseBlock();
    }

    /// <summary>Writes <c>ToOnnx</c>, its doc comment and signature included.</summary>
    public void WriteOnnx(SourceWriter w, string? doc, bool isOverride)
    {
        if (doc is null) GeneratedCode.InheritDoc(w);
        else GeneratedCode.Doc(w, doc);
        w.WriteLine($"public {(isOverride ? "override " : "")}OnnxValue ToOnnx(OnnxValue {Input}{(Cache.OnnxType is null ? "" : $", {Cache.OnnxType} cache")})");
        w.OpenBlock();
        var aliases = new Dictionary<string, string>();
        foreach (var statement in Statements)
        {
            if (statement is CastOnce cast)
            {
                aliases[cast.Name] = cast.Source;
                continue;
            }
            w.WriteLine(statement switch
            {
                Let let => $"var {let.Name} = {Onnx(let.Value, aliases)};",
                EachLayer each => $"for (var i = 0; i < {each.Layers}.Count; i++) {each.Name} = {each.Layers}[i].ToOnnx({each.Name}, cache[i]);",
                Return ret => $"return {Onnx(ret.Value, aliases)};{Comment(ret.Comment)}",
                _ => throw Unknown(statement),
            });
        }
        w.CloseBlock();
    }

    private static string Torch(Expr expr) => expr switch
    {
        Var v => v.Name,
        Constant c => c.Text,
        CacheArgument => "cache",
        Sum s => $"{Torch(s.Left)} + {Torch(s.Right)}",
        Apply a => $"{a.Module}.{a.Method ?? "call"}({Join(a.Arguments.Select(Torch))})",
        Function f => $"{f.Type}.{f.Method}({Join(f.Arguments.Select(Torch))})",
        _ => throw Unknown(expr),
    };

    private static string Onnx(Expr expr, IReadOnlyDictionary<string, string> aliases) => expr switch
    {
        Var v => aliases.TryGetValue(v.Name, out var source) ? source : v.Name,
        Constant c => c.Text,
        CacheArgument => "cache",
        Sum s => $"{Onnx(s.Left, aliases)} + {Onnx(s.Right, aliases)}",
        Apply a => $"{a.Module}.{(a.Method is null ? "ToOnnx" : a.Method + "ToOnnx")}({Join(a.Arguments.Select(e => Onnx(e, aliases)))})",
        Function f => $"{f.Type}.{f.Method}({Join(f.Arguments.Select(e => Onnx(e, aliases)).Concat(f.OnnxArguments))})",
        _ => throw Unknown(expr),
    };

    // A sum gets parentheses before a member access.
    private static string Parenthesized(Expr expr, System.Func<Expr, string> print) => expr is Sum ? $"({print(expr)})" : print(expr);

    private static string Comment(string? comment) => comment is null ? "" : "   // " + comment;

    private static string Join(IEnumerable<string> parts) => string.Join(", ", parts);

    private static System.InvalidOperationException Unknown(object node) => new($"No printer for {node.GetType().Name}.");
}

/// <summary>Which part of the KV cache a module takes: the whole model's, one layer's, or none.</summary>
/// <param name="TorchType">The TorchSharp cache type (nullable in <c>forward</c>: no cache in training); null: no cache argument.</param>
/// <param name="OnnxType">The exported cache type; null: no cache argument.</param>
internal sealed record CacheKind(string? TorchType, string? OnnxType)
{
    public static CacheKind Model { get; } = new("KvCache", "OnnxKvCache");

    public static CacheKind Layer { get; } = new("LayerKvCache", "OnnxLayerCache");

    /// <summary>A module that attends to nothing (a Transformer's MLP): <c>forward(x)</c>.</summary>
    public static CacheKind None { get; } = new(null, null);
}
