using System.Collections.Generic;
using System.Linq;
using TokenformerGen.Declarations;
using TokenformerGen.Generator.Planning;
using TokenformerGen.Primitives;

namespace TokenformerGen.Generator.Emit;

/// <summary>
/// Emits <c>{Family}.Family.g.cs</c>: a static class of the family's constants (dimensions, and per
/// stage a nested class of token counts, τ, parameter counts, FLOPs and training budget) plus the
/// spec text and its SHA-256. Depends on nothing but the plan: no TorchSharp.
/// </summary>
internal static class FamilyConstantsEmitter
{
    public static string HintName(FamilyPlan plan) => GeneratedNames.FamilyHintName(plan.Name);

    public static string Emit(FamilyPlan plan)
    {
        var a = plan.Architecture;
        var w = new SourceWriter();
        GeneratedCode.Header(w, plan);
        w.WriteLine($"namespace {plan.Namespace}");
        w.OpenBlock();
        if (plan.Origin == FamilyOrigin.Yaml)
        {
            // An attribute family's class is the user's: its documentation is theirs too.
            GeneratedCode.Doc(w, $"Constants of the Tokenformer model family <c>{plan.Name}</c>, generated from <c>{Literals.Xml(plan.SourceFileName)}</c>: fixed dimensions, and per stage the parameter-token counts, τ, size and compute.");
        }

        GeneratedCode.FamilyClass(w, plan, attribute: true);
        w.OpenBlock();

        Const(w, "Family name as written in the spec.", "string", "Name", Literals.String(plan.Name));
        Const(w, "Schema version of the spec.", "string", "SchemaVersion", Literals.String(Parsing.SpecReader.SchemaVersion));
        Const(w, "File name of the spec this class was generated from.", "string", "SourceFile", Literals.String(plan.SourceFileName));
        Const(w, $"Tokenizer: {Literals.CodeList(SpecChoices.Tokenizer)} (a <c>tokenizer.json</c> supplied at run time).", "string", "Tokenizer", Literals.String(plan.Tokenizer.SpecName()));
        Const(w, "Vocabulary size as given in the spec.", "int", "VocabularySize", Literals.Integer(plan.Vocabulary.Size));
        Const(w, "The vocabulary is padded up to a multiple of this.", "int", "VocabularyPadMultiple", Literals.Integer(plan.Vocabulary.PadToMultiple));
        Const(w, "Rows of the token embedding (and of the tied LM head): the padded vocabulary.", "int", "PaddedVocabularySize", Literals.Integer(plan.Vocabulary.Padded));
        Const(w, "Context length in tokens.", "int", "Context", Literals.Integer(plan.Context));
        Const(w, $"What the blocks project with: {Literals.CodeList(SpecChoices.Block)}.", "string", "Block", Literals.String(a.Block.SpecName()));
        Const(w, "Blocks of a root stage (<c>architecture.layers</c>); each stage states its own depth.", "int", "Layers", Literals.Integer(a.Layers));
        Const(w, "Hidden size d.", "int", "Hidden", Literals.Integer(a.Hidden));
        Const(w, "Attention heads.", "int", "Heads", Literals.Integer(a.Heads));
        if (a.IsTransformer)
        {
            Const(w, "Width of each block's MLP (d → MlpHidden → d).", "int", "MlpHidden", Literals.Integer(a.MlpHidden));
        }
        Const(w, "Dimensions per head: <see cref=\"Hidden\"/> / <see cref=\"Heads\"/>.", "int", "HeadDim", Literals.Integer(a.HeadDim));
        Const(w, "Fraction of each head's dimensions that rotary embeddings rotate.", "double", "RotaryFraction", Literals.Double(a.RotaryFraction));
        Const(w, "Rotary dimensions per head: int(<see cref=\"RotaryFraction\"/> · <see cref=\"HeadDim\"/>).", "int", "RotaryDims", Literals.Integer(a.RotaryDims));
        Const(w, "Rotary base (θ).", "double", "RotaryBase", Literals.Double(a.RotaryBase));
        Const(w, $"Pattention normalisation Θ: {Literals.CodeList(SpecChoices.Norm)}.", "string", "Norm", Literals.String(a.Norm.SpecName()));
        Const(w, $"How τ is chosen per stage: <c>{TauPolicy.SqrtN.SpecName()}</c> (√n of the stage's own count) or <c>{TauPolicy.Fixed.SpecName()}</c> (kept across {TokenformerGen.Families.GrowthPolicy.ZeroKeys.SpecName()} growth).", "string", "Tau", Literals.String(a.TauPolicy.SpecName()));
        Const(w, "ε of the Pattention norm (0 = none, as in the official code).", "double", "Epsilon", Literals.Double(a.Epsilon));
        Const(w, "Standard deviation of initial key tokens.", "double", "KeyInitStd", Literals.Double(a.Init.KeyStd));
        Const(w, $"Initialiser of value tokens: <c>{ValueInitializer.Wang.SpecName()}</c> (N(0, 2 / (L·√d))) or <c>{ValueInitializer.Normal.SpecName()}</c>.", "string", "ValueInit", Literals.String(a.Init.Value.SpecName()));
        Const(w, "Standard deviation of initial value tokens.", "double", "ValueInitStd", Literals.Double(a.Init.ValueStd));
        Const(w, "Standard deviation of the initial token embedding.", "double", "EmbeddingInitStd", Literals.Double(a.Init.EmbeddingStd));
        Const(w, "Whether the LM head is the token embedding.", "bool", "TiedEmbeddings", Literals.Boolean(a.TiedEmbeddings));
        Const(w, "Number of stages in the schedule.", "int", "StageCount", Literals.Integer(plan.Stages.Count));

        GeneratedCode.Doc(w, "Stage names in schedule order.");
        w.WriteLine("public static global::System.Collections.Generic.IReadOnlyList<string> StageNames { get; } =");
        w.Indent();
        w.WriteLine($"global::System.Array.AsReadOnly(new string[] {{ {string.Join(", ", plan.Stages.Select(s => Literals.String(s.Name)))} }});");
        w.Unindent();

        foreach (var stage in plan.Stages)
        {
            w.WriteLine();
            EmitStage(w, plan, stage);
        }

        w.WriteLine();
        GeneratedCode.Doc(w, plan.Origin == FamilyOrigin.Attributes
            ? "The family's attribute lists exactly as written (its SHA-256 is <see cref=\"SpecSha256\"/>)."
            : "The spec exactly as read (its SHA-256 is <see cref=\"SpecSha256\"/>).");
        w.WriteLine("public const string SpecText =");
        w.Indent();
        var lines = SplitKeepingNewlines(plan.SpecText);
        if (lines.Count == 0)
        {
            w.WriteLine("\"\";");
        }

        for (var i = 0; i < lines.Count; i++)
        {
            w.WriteLine(Literals.String(lines[i]) + (i == lines.Count - 1 ? ";" : " +"));
        }

        w.Unindent();
        Const(w, "Lower-case hex SHA-256 of the UTF-8 bytes of <see cref=\"SpecText\"/>.", "string", "SpecSha256", Literals.String(plan.SpecSha256));

        w.CloseBlock();
        w.CloseBlock();
        return w.ToString();
    }

    private static void EmitStage(SourceWriter w, FamilyPlan plan, StagePlan stage)
    {
        var how = new[] { stage.Growth?.SpecName(), stage.LayerGrowth is { } l ? "layers " + l.SpecName() : null }.Where(h => h is not null).Select(h => $"<c>{h}</c>").ToList();
        var origin = stage.GrowsFrom is null
            ? "a root of the schedule, trained from scratch"
            : $"grown from <see cref=\"{stage.GrowsFrom}\"/>" + (how.Count == 0 ? "" : " with " + string.Join(" and ", how));
        GeneratedCode.Doc(w, $"Stage <c>{stage.Name}</c> (stage {stage.Index} of {plan.Stages.Count}): {origin}.");
        w.WriteLine($"public static class {stage.Name}");
        w.OpenBlock();
        Const(w, "Stage name.", "string", "Name", Literals.String(stage.Name));
        Const(w, "Position in the schedule (0-based).", "int", "Index", Literals.Integer(stage.Index));
        Const(w, "Name of the stage this one grows from, or <see langword=\"null\"/> for a root stage.", "string?", "GrowsFrom", stage.GrowsFrom is null ? "null" : Literals.String(stage.GrowsFrom));
        if (!plan.Architecture.IsTransformer)
        {
            Const(w, $"Growth policy of parameter tokens from the parent stage ({Literals.CodeList(SpecChoices.Growth)}), or <see langword=\"null\"/> for a root stage.", "string?", "Growth", stage.Growth is { } g ? Literals.String(g.SpecName()) : "null");
        }

        Const(w, $"How the blocks added to the parent's are made ({Literals.CodeList(SpecChoices.LayerGrowth)}), or <see langword=\"null\"/> when the depth does not grow.", "string?", "LayerGrowth", stage.LayerGrowth is { } lg ? Literals.String(lg.SpecName()) : "null");
        var edge = plan.Edges.FirstOrDefault(e => e.ToIndex == stage.Index);
        Const(w, "Whether growing from the parent keeps the model's function exactly (true for a root stage).", "bool", "PreservesFunction", Literals.Boolean(edge?.PreservesFunction ?? true));
        Const(w, "Blocks of this stage.", "int", "Layers", Literals.Integer(stage.Layers));
        Const(w, plan.Architecture.IsTransformer ? "Standard deviation of initial output-projection weights at this depth." : "Standard deviation of initial value tokens at this depth.", "double", "ValueInitStd", Literals.Double(stage.ValueStd));
        if (!plan.Architecture.IsTransformer)
        {
            Const(w, "Parameter tokens of each of the query, key and value Pattentions.", "int", "QkvTokens", Literals.Integer(stage.Tokens.Qkv));
            Const(w, "Parameter tokens of the attention output Pattention.", "int", "ProjTokens", Literals.Integer(stage.Tokens.Proj));
            Const(w, "Parameter tokens of the FFN Pattention.", "int", "FfnTokens", Literals.Integer(stage.Tokens.Ffn));
            Const(w, "τ of the query, key and value Pattentions.", "double", "QkvTau", Literals.Double(stage.Tau.Qkv));
            Const(w, "τ of the attention output Pattention.", "double", "ProjTau", Literals.Double(stage.Tau.Proj));
            Const(w, "τ of the FFN Pattention.", "double", "FfnTau", Literals.Double(stage.Tau.Ffn));
        }

        Const(w, plan.Architecture.IsTransformer
            ? "Trainable parameters (tied embedding, projection weights, final LayerNorm)."
            : "Trainable parameters (tied embedding, Pattention key and value tokens, final LayerNorm).", "long", "Parameters", Literals.Integer(stage.Parameters));
        Const(w, "Forward FLOPs per token at the family's context length.", "long", "ForwardFlopsPerToken", Literals.Integer(stage.ForwardFlopsPerToken));
        Const(w, "Training FLOPs per token (forward and backward) at the family's context length.", "long", "TrainingFlopsPerToken", Literals.Integer(stage.TrainingFlopsPerToken));
        Const(w, "Whether the spec gives this stage a training budget.", "bool", "HasTrainingBudget", Literals.Boolean(stage.Training is not null));
        if (stage.Training is { } t)
        {
            Const(w, "Training tokens of this stage.", "long", "TrainTokens", Literals.Integer(t.Tokens));
            Const(w, "Peak learning rate.", "double", "LearningRate", Literals.Double(t.LearningRate));
            Const(w, "Linear warm-up as a fraction of the stage's steps.", "double", "Warmup", Literals.Double(t.Warmup));
            Const(w, "Sequences per optimiser step.", "int", "Batch", Literals.Integer(t.Batch));
        }

        w.CloseBlock();
    }

    private static void Const(SourceWriter w, string doc, string type, string name, string value)
    {
        GeneratedCode.Doc(w, doc);
        w.WriteLine($"public const {type} {name} = {value};");
    }

    private static List<string> SplitKeepingNewlines(string text)
    {
        var lines = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var newline = text.IndexOf('\n', start);
            var end = newline < 0 ? text.Length : newline + 1;
            lines.Add(text.Substring(start, end - start));
            start = end;
        }

        return lines;
    }
}
