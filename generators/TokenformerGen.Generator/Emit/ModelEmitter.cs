using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Declarations;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// Emits <c>{Family}.{Stage}.g.cs</c>: the stage's TorchSharp model spelled out — model, block and
/// self-attention classes with every size folded in, typed children (<c>model.Layers[3].Attention.Query</c>)
/// and state-dict names that map one to one onto the official layout — plus, for a grown stage,
/// <c>GrowFrom(parent)</c>, which only accepts the parent stage's type.
/// </summary>
internal static class ModelEmitter
{
    public static string HintName(FamilyPlan plan, StagePlan stage) => GeneratedNames.StageHintName(plan.Name, stage.Name);

    public static string ClassName(FamilyPlan plan, StagePlan stage) => GeneratedNames.StageClass(plan.Name, stage.Name);

    public static string Emit(FamilyPlan plan, StagePlan stage)
    {
        var a = plan.Architecture;
        var name = ClassName(plan, stage);
        var constants = $"{plan.ClassName}.{stage.Name}";
        var edge = plan.Edges.FirstOrDefault(e => e.To == stage.Name);
        var w = new SourceWriter();
        GeneratedCode.Header(w, plan);
        w.WriteLine($"namespace {plan.Namespace}");
        w.OpenBlock();
        var projections = a.IsTransformer ? new[] { "Projection", "Activations" } : new[] { "Pattention", "PattentionNorm", "TauPolicy" };
        var aliases = new List<string> { "Torch", "Tensor", "TokenEmbedding", "AffineLayerNorm" };
        aliases.AddRange(projections);
        aliases.AddRange(new[] { "RotaryEmbedding", "CausalAttention", "LayerNorms", "KvCache", "LayerKvCache", "OnnxValue", "OnnxKvCache", "OnnxLayerCache", "TokenformerModel", "StageInfo" });
        if (stage.Training is not null) aliases.Add("TrainingBudget");
        if (edge is not null) aliases.AddRange(new[] { "StageGrowth", "GrowthOptions" });
        if (stage.Growth is not null) aliases.Add("GrowthPolicy");
        if (stage.LayerGrowth is not null) aliases.Add("LayerGrowth");
        RuntimeNames.WriteAliases(w, aliases.ToArray());

        var blocks = a.IsTransformer
            ? $"{stage.Layers} Transformer blocks, d = {a.Hidden}, {a.Heads} heads, MLP {a.MlpHidden}"
            : $"{stage.Layers} blocks, d = {a.Hidden}, {a.Heads} heads, Pattention tokens qkv {stage.Tokens.Qkv}, proj {stage.Tokens.Proj}, ffn {stage.Tokens.Ffn}";
        GeneratedCode.Doc(w, $"<c>{plan.Name}</c> stage <c>{stage.Name}</c>: {blocks}; {Literals.Integer(stage.Parameters)} parameters. Token ids <c>[batch, T]</c> in, float32 logits <c>[batch, T, {plan.Vocabulary.Padded}]</c> out.");
        GeneratedCode.Attribute(w);
        w.WriteLine($"public sealed partial class {name} : TokenformerModel");
        w.OpenBlock();
        GeneratedCode.Doc(w, "What this stage is: dimensions, token counts, τ, budget and spec hash.");
        w.WriteLine($"public static StageInfo Info {{ get; }} = new(");
        w.Indent();
        // A stage deeper than architecture.layers has its own depth and Wang std; the rest is the family's.
        var architecture = stage.Layers == a.Layers
            ? $"{plan.ClassName}.Architecture"
            : $"{plan.ClassName}.Architecture with {{ Layers = {constants}.Layers, ValueStd = {constants}.ValueInitStd }}";
        w.WriteLine($"{plan.ClassName}.Name, {constants}.Name, {architecture},");
        if (a.IsTransformer)
        {
            w.WriteLine("Tokens: default, Taus: default,   // a Transformer block has no parameter tokens");
        }
        else
        {
            w.WriteLine($"new({constants}.QkvTokens, {constants}.ProjTokens, {constants}.FfnTokens),");
            w.WriteLine($"new({constants}.QkvTau, {constants}.ProjTau, {constants}.FfnTau),");
        }
        w.WriteLine(stage.Training is null ? "Budget: null," : $"new TrainingBudget({constants}.TrainTokens, {constants}.LearningRate, {constants}.Warmup, {constants}.Batch),");
        w.WriteLine(edge is null ? "GrowsFrom: null, Growth: null," : $"GrowsFrom: {constants}.GrowsFrom, Growth: {(stage.Growth is { } growth ? RuntimeNames.Growth(growth) : "null")},");
        w.WriteLine($"SpecHash: {plan.ClassName}.SpecSha256{(stage.LayerGrowth is { } layerGrowth ? ", LayerGrowth: " + RuntimeNames.Growth(layerGrowth) : "")});");
        w.Unindent();
        w.WriteLine();

        w.WriteLine($"private readonly TokenEmbedding word_embeddings;");
        w.WriteLine($"private readonly global::TorchSharp.Modules.ModuleList<Block> layers;");
        w.WriteLine($"private readonly AffineLayerNorm final_norm;");
        w.WriteLine();
        GeneratedCode.Doc(w, "Creates the model with zero weights: call <c>InitializeFromScratch</c>, load a checkpoint or grow it from its parent.");
        w.WriteLine($"public {name}() : base(nameof({name}))");
        w.OpenBlock();
        w.WriteLine($"word_embeddings = new TokenEmbedding({plan.Vocabulary.Padded}, {a.Hidden});");
        w.WriteLine($"var blocks = new Block[{stage.Layers}];");
        w.WriteLine("for (var i = 0; i < blocks.Length; i++) blocks[i] = new Block(\"layers.\" + i);");
        w.WriteLine($"layers = Torch.nn.ModuleList(blocks);");
        w.WriteLine($"final_norm = new AffineLayerNorm({a.Hidden}, LayerNorms.Epsilon);");
        w.WriteLine("RegisterComponents();");
        w.CloseBlock();
        w.WriteLine();
        GeneratedCode.InheritDoc(w);
        w.WriteLine($"protected override StageInfo DeclaredStage => Info;");
        w.WriteLine();
        GeneratedCode.Doc(w, $"Token embedding <c>[{plan.Vocabulary.Padded}, {a.Hidden}]</c>, also the LM head (<c>word_embeddings.weight</c>).");
        w.WriteLine($"public TokenEmbedding WordEmbeddings => word_embeddings;");
        GeneratedCode.Doc(w, $"The {stage.Layers} blocks (<c>layers.{{i}}</c>).");
        w.WriteLine($"public global::TorchSharp.Modules.ModuleList<Block> Layers => layers;");
        GeneratedCode.Doc(w, $"Final affine LayerNorm over d = {a.Hidden} (<c>final_norm.weight</c>, <c>final_norm.bias</c>).");
        w.WriteLine($"public AffineLayerNorm FinalNorm => final_norm;");
        w.WriteLine();
        var model = ModelForward();
        model.WriteTorch(w, $"Float32 logits <c>[batch, T, {plan.Vocabulary.Padded}]</c> for token ids <c>[batch, T]</c> on the model's device; with a <paramref name=\"cache\"/>, the tokens follow the cached positions and are added to the cache. Temporaries are freed before returning.", isOverride: true);
        w.WriteLine();
        model.WriteOnnx(w, doc: null, isOverride: true);

        if (edge is not null)
        {
            var parent = GeneratedNames.StageClass(plan.Name, edge.From);
            var edgeClass = EdgeEmitter.ClassName(plan, edge);
            w.WriteLine();
            GeneratedCode.Doc(w, $"Grows a trained <see cref=\"{parent}\"/> into this stage along <see cref=\"{edgeClass}.Map\"/> ({EdgeEmitter.Growth(plan, edge)}).");
            w.WriteLine($"public static {name} GrowFrom({parent} trained, GrowthOptions? options = null)");
            w.OpenBlock();
            w.WriteLine($"var grown = new {name}();");
            w.WriteLine($"StageGrowth.GrowInto({edgeClass}.Map, trained, grown, options);");
            w.WriteLine("return grown;");
            w.CloseBlock();
        }

        w.WriteLine();
        EmitBlock(w, plan, stage);
        w.WriteLine();
        EmitAttention(w, plan, stage);
        if (a.IsTransformer)
        {
            w.WriteLine();
            EmitMlp(w, plan);
        }
        w.CloseBlock();
        w.CloseBlock();
        return w.ToString();
    }

    private static void EmitBlock(SourceWriter w, FamilyPlan plan, StagePlan stage)
    {
        var a = plan.Architecture;
        GeneratedCode.Doc(w, $"One pre-LN block: <c>h = x + Attention(LN(x))</c>, <c>y = h + Mlp(LN(h))</c>, LN without parameters; <c>[batch, T, {a.Hidden}]</c> in and out.");
        w.WriteLine($"public sealed class Block : Torch.nn.Module<Tensor, LayerKvCache?, Tensor>");
        w.OpenBlock();
        var mlpType = a.IsTransformer ? "Mlp" : "Pattention";
        w.WriteLine("private readonly SelfAttention attention;");
        w.WriteLine($"private readonly {mlpType} mlp;");
        w.WriteLine();
        GeneratedCode.Doc(w, "Creates the block's modules.");
        w.WriteLine("public Block(string name) : base(name)");
        w.OpenBlock();
        w.WriteLine("attention = new SelfAttention(\"attention\");");
        w.WriteLine($"mlp = {(a.IsTransformer ? "new Mlp(\"mlp\")" : NewPattention(plan, stage.Tokens.Ffn, stage.Tau.Ffn, "mlp"))};");
        w.WriteLine("RegisterComponents();");
        w.CloseBlock();
        w.WriteLine();
        GeneratedCode.Doc(w, "Causal self-attention (<c>attention</c>).");
        w.WriteLine("public SelfAttention Attention => attention;");
        GeneratedCode.Doc(w, a.IsTransformer
            ? $"The MLP: d → {a.MlpHidden} → d with exact GeLU (<c>mlp</c>)."
            : $"The FFN: one Pattention d → d with {stage.Tokens.Ffn} tokens, τ = {Literals.Double(stage.Tau.Ffn)} (<c>mlp</c>).");
        w.WriteLine($"public {mlpType} Mlp => mlp;");
        w.WriteLine();
        // A scope per block and per attention frees their temporaries before the next layer runs. They pay
        // (docs/benchmarks.md, figure 4): without them a no-grad forward holds every layer's temporaries at
        // once and a training step the ones autograd does not need; cached decoding is unaffected.
        var block = BlockForward(a.Hidden);
        block.WriteTorch(w, "Applies the block to <paramref name=\"x\"/>; with this layer's <paramref name=\"cache\"/>, attention also sees the cached positions and adds the new ones.", isOverride: true);
        w.WriteLine();
        block.WriteOnnx(w, "The forward as ONNX nodes, with this layer's part of the exported KV cache.", isOverride: false);
        w.CloseBlock();
    }

    private static void EmitAttention(SourceWriter w, FamilyPlan plan, StagePlan stage)
    {
        var a = plan.Architecture;
        var n = stage.Tokens.Qkv;
        var rotary = $"{a.Heads} heads of {a.HeadDim} dims with rotary on the first {a.RotaryDims}";
        GeneratedCode.Doc(w, a.IsTransformer
            ? $"Causal multi-head self-attention: bias-free query, key and value projections d → d, {rotary}, and a bias-free output projection d → d."
            : $"Causal multi-head self-attention: query, key and value Pattentions ({n} tokens each), {rotary}, and an output Pattention ({stage.Tokens.Proj} tokens).");
        w.WriteLine($"public sealed class SelfAttention : Torch.nn.Module<Tensor, LayerKvCache?, Tensor>");
        w.OpenBlock();
        var type = a.IsTransformer ? "Projection" : "Pattention";
        w.WriteLine($"private static readonly RotaryEmbedding Rotary = new({a.HeadDim}, {Literals.Double(a.RotaryFraction)}, {Literals.Double(a.RotaryBase)});");
        w.WriteLine($"private readonly {type} query;");
        w.WriteLine($"private readonly {type} key;");
        w.WriteLine($"private readonly {type} value;");
        w.WriteLine($"private readonly {type} proj;");
        w.WriteLine();
        GeneratedCode.Doc(w, a.IsTransformer ? "Creates the four projections." : "Creates the four Pattentions.");
        w.WriteLine("public SelfAttention(string name) : base(name)");
        w.OpenBlock();
        foreach (var (field, tokens, tau) in new[] { ("query", n, stage.Tau.Qkv), ("key", n, stage.Tau.Qkv), ("value", n, stage.Tau.Qkv), ("proj", stage.Tokens.Proj, stage.Tau.Proj) })
            w.WriteLine($"{field} = {(a.IsTransformer ? NewProjection(a.Hidden, a.Hidden, field) : NewPattention(plan, tokens, tau, field))};");
        w.WriteLine("RegisterComponents();");
        w.CloseBlock();
        w.WriteLine();
        foreach (var (property, field, tokens) in new[] { ("Query", "query", n), ("Key", "key", n), ("Value", "value", n), ("Proj", "proj", stage.Tokens.Proj) })
        {
            GeneratedCode.Doc(w, a.IsTransformer
                ? $"<c>{field}</c>: weight <c>[{a.Hidden}, {a.Hidden}]</c>."
                : $"<c>{field}</c>: keys <c>[{tokens}, {a.Hidden}]</c>, values <c>[{tokens}, {a.Hidden}]</c>.");
            w.WriteLine($"public {type} {property} => {field};");
        }
        w.WriteLine();
        var attention = AttentionForward(a.Heads);
        attention.WriteTorch(w, "Attends over <paramref name=\"x\"/> <c>[batch, T, d]</c> (already normalised); with a <paramref name=\"cache\"/>, also over the cached positions, and adds the new ones to it.", isOverride: true);
        w.WriteLine();
        attention.WriteOnnx(w, "The forward as ONNX nodes: attends over the cached positions and the new ones, which <paramref name=\"cache\"/> appends and outputs.", isOverride: false);
        w.CloseBlock();
    }

    private static void EmitMlp(SourceWriter w, FamilyPlan plan)
    {
        var a = plan.Architecture;
        GeneratedCode.Doc(w, $"A Transformer block's MLP: <c>down(GeLU(up(x)))</c>, d = {a.Hidden} → {a.MlpHidden} → {a.Hidden}, bias-free, exact (erf) GeLU.");
        w.WriteLine("public sealed class Mlp : Torch.nn.Module<Tensor, Tensor>");
        w.OpenBlock();
        w.WriteLine("private readonly Projection up;");
        w.WriteLine("private readonly Projection down;");
        w.WriteLine();
        GeneratedCode.Doc(w, "Creates the two projections.");
        w.WriteLine("public Mlp(string name) : base(name)");
        w.OpenBlock();
        w.WriteLine($"up = {NewProjection(a.Hidden, a.MlpHidden, "up")};");
        w.WriteLine($"down = {NewProjection(a.MlpHidden, a.Hidden, "down")};");
        w.WriteLine("RegisterComponents();");
        w.CloseBlock();
        w.WriteLine();
        GeneratedCode.Doc(w, $"<c>up</c>: weight <c>[{a.MlpHidden}, {a.Hidden}]</c>.");
        w.WriteLine("public Projection Up => up;");
        GeneratedCode.Doc(w, $"<c>down</c>: weight <c>[{a.Hidden}, {a.MlpHidden}]</c>.");
        w.WriteLine("public Projection Down => down;");
        w.WriteLine();
        var mlp = MlpForward();
        mlp.WriteTorch(w, "Applies the MLP to <paramref name=\"x\"/> <c>[batch, T, d]</c> (already normalised).", isOverride: true);
        w.WriteLine();
        mlp.WriteOnnx(w, "The forward as ONNX nodes.", isOverride: false);
        w.CloseBlock();
    }

    // The forwards, each described once and printed for TorchSharp and for ONNX (Forward).
    private static Forward ModelForward()
        => new("tokens", CacheKind.Model,
        [
            new Forward.Let("h", new Forward.Apply("word_embeddings", [new Forward.Var("tokens")])),
            new Forward.EachLayer("h", "layers"),
            new Forward.Return(new Forward.Apply("word_embeddings", [new Forward.Apply("final_norm", [new Forward.Var("h")])], Method: "Logits"), "the tied LM head"),
        ]);

    // Pre-LN with LayerNorms without parameters: h = x + Attention(LN(x)), y = h + Mlp(LN(h)).
    private static Forward BlockForward(long hidden)
    {
        Forward.Expr Normalized(string name) => new Forward.Function("LayerNorms", "NonParametric", [new Forward.Var(name)], [hidden.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        return new("x", CacheKind.Layer,
        [
            new Forward.Let("h", new Forward.Sum(new Forward.Var("x"), new Forward.Apply("attention", [Normalized("x"), Forward.CacheArg]))),
            new Forward.Return(new Forward.Sum(new Forward.Var("h"), new Forward.Apply("mlp", [Normalized("h")]))),
        ]);
    }

    private static Forward AttentionForward(long heads)
    {
        Forward.Expr Project(string module) => new Forward.Apply(module, [new Forward.Var("input")]);
        return new("x", CacheKind.Layer,
        [
            new Forward.CastOnce("input", "query", "x", "cast once for the three projections"),
            new Forward.Let("attended", new Forward.Function("CausalAttention", "CausalSelfAttention",
                [Project("query"), Project("key"), Project("value"), new Forward.Constant(heads.ToString(System.Globalization.CultureInfo.InvariantCulture)), new Forward.Constant("Rotary"), Forward.CacheArg], [])),
            new Forward.Return(new Forward.Apply("proj", [new Forward.Var("attended")])),
        ]);
    }

    // A Transformer MLP: y = down(GeLU(up(x))).
    private static Forward MlpForward()
        => new("x", CacheKind.None,
        [
            new Forward.Let("hidden", new Forward.Function("Activations", "Gelu", [new Forward.Apply("up", [new Forward.Var("x")])], [])),
            new Forward.Return(new Forward.Apply("down", [new Forward.Var("hidden")])),
        ]);

    private static string NewProjection(int inputDim, int outputDim, string name) => $"new Projection({inputDim}, {outputDim}, name: \"{name}\")";

    private static string NewPattention(FamilyPlan plan, int tokens, double tau, string name)
    {
        var a = plan.Architecture;
        var temperature = a.TauPolicy == TauPolicy.Fixed ? $", fixedTau: {Literals.Double(tau)}" : string.Empty;
        return $"new Pattention({a.Hidden}, {tokens}, {a.Hidden}, {RuntimeNames.Norm(a.Norm)}, {RuntimeNames.Tau(a.TauPolicy)}{temperature}, epsilon: {Literals.Double(a.Epsilon)}, name: \"{name}\")";
    }
}
