using System.Globalization;
using System.Text;
using TokenformerGen.Checkpoints;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Handoff;

/// <summary>
/// A GPT-NeoX YAML config for the official TokenFormer trainer (keys as in its
/// <c>configs/tokenformer/*.yml</c>) describing one stage, so that a <c>pytorch_model.bin</c> written by
/// <see cref="OfficialCheckpoint"/> can be trained on there.
/// </summary>
public static class OfficialConfig
{
    /// <summary>The things a config states that are not part of the architecture.</summary>
    /// <param name="MicroBatch">Sequences per GPU per micro-batch.</param>
    /// <param name="TrainIterations">Optimizer steps.</param>
    /// <param name="LearningRate">Peak learning rate.</param>
    /// <param name="Warmup">Share of steps in warmup.</param>
    public sealed record Training(long MicroBatch, long TrainIterations, double LearningRate, double Warmup);

    /// <summary>Training settings from the stage's budget (or the spec's recipe when it has none).</summary>
    public static Training DefaultTraining(StageInfo stage)
    {
        var budget = stage.Budget;
        var batch = budget?.Batch ?? 8;
        var iterations = budget is null ? 1000 : Math.Max(1, budget.Tokens / (batch * stage.Architecture.Context));
        return new Training(batch, iterations, budget?.LearningRate ?? 6e-4, budget?.Warmup ?? 0.01);
    }

    /// <summary>
    /// The largest power of two (at most 128, GPT-NeoX's default) that pads <see cref="ArchitectureInfo.Vocabulary"/>
    /// to exactly <see cref="ArchitectureInfo.PaddedVocabulary"/>; the padded size itself when none does.
    /// </summary>
    public static long VocabularyDivisor(ArchitectureInfo architecture)
        => NeoXConfig.VocabularyDivisor(architecture.Vocabulary, architecture.PaddedVocabulary) ?? architecture.PaddedVocabulary;

    /// <summary>
    /// Things the official trainer would do differently from this stage, one sentence each: a τ that is not
    /// √n (the official code always uses √n of the current count), a nonzero ε, a tokenizer it has no
    /// counterpart for.
    /// </summary>
    public static IReadOnlyList<string> Caveats(StageInfo stage)
    {
        var caveats = new List<string>();
        var a = stage.Architecture;
        var t = stage.Tokens;
        var tau = stage.Taus;
        if (a.Norm != PattentionNorm.Softmax
            && (!Near(tau.Qkv, Math.Sqrt(t.Qkv)) || !Near(tau.Proj, Math.Sqrt(t.Proj)) || !Near(tau.Ffn, Math.Sqrt(t.Ffn))))
            caveats.Add($"τ (qkv {F(tau.Qkv)}, proj {F(tau.Proj)}, ffn {F(tau.Ffn)}) is not √n of the token counts; the official code always uses √n, so it computes a different function until trained on");
        if (a.Epsilon != 0)
            caveats.Add($"ε = {F(a.Epsilon)} in the Pattention norm; the official code has none");
        if (a.Tokenizer == TokenizerKind.Byte)
            caveats.Add("the byte tokenizer has no GPT-NeoX counterpart: give the official trainer data tokenized to the same byte ids");
        return caveats;
    }

    /// <summary>The config text for <paramref name="stage"/>.</summary>
    /// <param name="stage">The stage the weights belong to.</param>
    /// <param name="training">Training settings; <see cref="DefaultTraining"/> when null.</param>
    /// <param name="checkpointFile">The weights file the config goes with (mentioned in a comment).</param>
    public static string Write(StageInfo stage, Training? training = null, string checkpointFile = OfficialCheckpoint.FileName)
    {
        training ??= DefaultTraining(stage);
        var a = stage.Architecture;
        var t = stage.Tokens;
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line($"# GPT-NeoX config for the official TokenFormer trainer: {stage.QualifiedName}, {stage.Parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters.");
        Line($"# Weights: {checkpointFile} beside this file (official key layout, float32). Spec hash {stage.SpecHash}.");
        foreach (var caveat in Caveats(stage)) Line($"# Note: {caveat}.");
        Line("{");
        Line("  \"pipe_parallel_size\": 1,");
        Line("  \"model_parallel_size\": 1,");
        Line();
        Line($"  \"num_layers\": {a.Layers},");
        Line($"  \"hidden_size\": {a.Hidden},");
        Line($"  \"num_attention_heads\": {a.Heads},");
        Line($"  \"qkv_slot_num\": {t.Qkv},");
        Line($"  \"proj_slot_num\": {t.Proj},");
        Line($"  \"ffn_slot_num\": {t.Ffn},");
        Line($"  \"seq_length\": {a.Context},");
        Line($"  \"max_position_embeddings\": {a.Context},");
        Line("  \"pos_emb\": \"rotary\",");
        Line($"  \"rotary_pct\": {F(a.RotaryFraction)},");
        Line($"  \"rotary_emb_base\": {F(a.RotaryBase)},");
        Line("  \"no_weight_tying\": false,");
        Line("  \"norm\": \"layernorm_nonparam\",");
        Line("  \"final_norm\": \"layernorm\",");
        Line("  \"gpt_j_residual\": false,");
        Line("  \"output_layer_parallelism\": \"column\",");
        Line("  \"use_bias_in_attn_linear\": false,");
        Line();
        Line($"  \"attention_config\": [[[\"tokenformer\"], {a.Layers}]],");
        Line($"  \"norm_activation_type\": \"{a.Norm.SpecName()}\",");
        Line();
        Line("  \"init_method\": \"normal\",");
        Line("  \"output_layer_init_method\": \"wang_init\",");
        Line();
        Line($"  # vocabulary: {a.Vocabulary} ids padded to {a.PaddedVocabulary} embedding rows");
        Line($"  \"make_vocab_size_divisible_by\": {VocabularyDivisor(a)},");
        Line($"  \"tokenizer_type\": \"{(a.Tokenizer == TokenizerKind.Byte ? "CharLevelTokenizer" : "HFTokenizer")}\",");
        if (a.Tokenizer != TokenizerKind.Byte)
            Line($"  \"vocab_file\": \"./tokenizer.json\",  # {(a.Tokenizer == TokenizerKind.Gpt2 ? "GPT-2" : "GPT-NeoX-20B")} tokenizer");
        Line();
        Line("  \"optimizer\": {");
        Line("    \"type\": \"Adam\",");
        Line($"    \"params\": {{ \"lr\": {F(training.LearningRate)}, \"betas\": [0.9, 0.95], \"eps\": 1.0e-8 }}");
        Line("  },");
        Line($"  \"min_lr\": {F(training.LearningRate * 0.1)},");
        Line($"  \"train_micro_batch_size_per_gpu\": {training.MicroBatch},");
        Line("  \"gradient_accumulation_steps\": 1,");
        Line("  \"gradient_clipping\": 1.0,");
        Line("  \"weight_decay\": 0.1,");
        Line("  \"hidden_dropout\": 0,");
        Line("  \"attention_dropout\": 0,");
        Line($"  \"train_iters\": {training.TrainIterations},");
        Line($"  \"lr_decay_iters\": {training.TrainIterations},");
        Line("  \"lr_decay_style\": \"cosine\",");
        Line($"  \"warmup\": {F(training.Warmup)}");
        Line("}");
        return text.ToString();
    }

    private static bool Near(double a, double b) => Math.Abs(a - b) <= 1e-9 * Math.Max(1, Math.Abs(b));

    // PyYAML (which GPT-NeoX reads configs with) takes "6E-05" for a string: exponents get a mantissa with a dot.
    private static string F(double value)
    {
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E');
        return e > 0 && !text.Contains('.') ? text[..e] + ".0" + text[e..] : text;
    }
}
