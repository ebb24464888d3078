using System.Globalization;
using System.Text;
using TokenformerGen.Checkpoints;
using TokenformerGen.Declarations;
using TokenformerGen.Families;

namespace TokenformerGen.Handoff;

/// <summary>How the official trainer takes an exported checkpoint.</summary>
public enum NeoXRoute
{
    /// <summary>Keep training the same shape: <c>load</c> the checkpoint with <c>finetune: true</c> (weights only; iteration, schedule and optimizer start afresh).</summary>
    Continue,

    /// <summary>Grow into the next stage: <c>pretrain_partial_init</c> copies every <c>*param_tokens</c> tensor into the first rows of the larger model.</summary>
    Grow,
}

/// <summary>Everything a hand-off config names besides the model.</summary>
/// <param name="Route">Continue or grow.</param>
/// <param name="Checkpoint">The DeepSpeed directory the weights are in (holding <c>latest</c>).</param>
/// <param name="Save">Where the trainer saves (and, for the grow route, loads on a restart).</param>
/// <param name="DataPrefix">The NeoX dataset prefix (<c>data_path</c>).</param>
/// <param name="TokenizerFile">The <c>tokenizer.json</c> (<c>vocab_file</c>, read by <c>HFTokenizer</c>).</param>
/// <param name="TokenizerVocabulary">Its number of ids, which the trainer pads by <c>make_vocab_size_divisible_by</c>.</param>
public sealed record NeoXHandOff(NeoXRoute Route, string Checkpoint, string Save, string DataPrefix, string TokenizerFile, long TokenizerVocabulary);

/// <summary>
/// A YAML config that the official TokenFormer trainer (GPT-NeoX, <c>python deepy.py train.py CONFIG</c>) accepts for a
/// stage: only keys its strict config class knows, each of the type it checks (the test data
/// <c>neox-config-keys.tsv</c> lists them, derived from its source). The model is the stage's shape; the optimizer and
/// schedule come from the stage's budget; <c>load</c>, <c>save</c>, <c>checkpoint_factor</c> and the route's keys point
/// at the exported DeepSpeed checkpoint.
/// </summary>
public static class NeoXConfig
{
    /// <summary>A config: keys in order, values of long, double, bool, string, lists and nested configs.</summary>
    public sealed class Map : List<KeyValuePair<string, object>>
    {
        /// <summary>Adds a key.</summary>
        public void Add(string key, object value) => Add(new KeyValuePair<string, object>(key, value));
    }

    /// <summary>
    /// The <c>make_vocab_size_divisible_by</c> that makes the trainer pad <paramref name="tokenizerVocabulary"/> ids to
    /// exactly <paramref name="paddedVocabulary"/> embedding rows (the largest power of two up to 128 that does, else the
    /// padded size itself), or null when no value can (the trainer's rows would differ from the checkpoint's).
    /// </summary>
    public static long? VocabularyDivisor(long tokenizerVocabulary, long paddedVocabulary)
    {
        if (tokenizerVocabulary > paddedVocabulary) return null;
        for (long m = 128; m >= 1; m /= 2)
            if (Architecture.ModelSize.PaddedVocabulary(tokenizerVocabulary, m) == paddedVocabulary) return m;
        return Architecture.ModelSize.PaddedVocabulary(tokenizerVocabulary, paddedVocabulary) == paddedVocabulary ? paddedVocabulary : null;
    }

    /// <summary>
    /// Why the official trainer cannot take <paramref name="stage"/> at all (null when it can): a vocabulary its padding
    /// cannot reproduce, or a rotary base that is not an integer (a head count that does not divide the width never gets
    /// this far: the generator refuses such a spec).
    /// </summary>
    public static string? Refusal(StageInfo stage, long tokenizerVocabulary)
    {
        var a = stage.Architecture;
        if (VocabularyDivisor(tokenizerVocabulary, a.PaddedVocabulary) is null)
            return $"the trainer pads the tokenizer's {tokenizerVocabulary:N0} ids to a multiple of make_vocab_size_divisible_by, which cannot give this family's {a.PaddedVocabulary:N0} embedding rows";
        if (a.RotaryBase != Math.Floor(a.RotaryBase) || a.RotaryBase < 1 || a.RotaryBase > int.MaxValue)
            return $"the trainer's rotary_emb_base is an integer; this family's is {a.RotaryBase.ToString("R", CultureInfo.InvariantCulture)}";
        return null;
    }

    /// <summary>The config for <paramref name="stage"/> (the shape the trainer builds: for the grow route, the next stage's).</summary>
    /// <exception cref="ArgumentException">The trainer cannot take the stage (<see cref="Refusal"/>).</exception>
    public static Map Build(StageInfo stage, NeoXHandOff handOff, OfficialConfig.Training? training = null)
    {
        if (Refusal(stage, handOff.TokenizerVocabulary) is { } why) throw new ArgumentException($"{stage.QualifiedName}: {why}", nameof(stage));
        training ??= OfficialConfig.DefaultTraining(stage);
        var a = stage.Architecture;
        var t = stage.Tokens;
        var checkpointEvery = Math.Max(1, training.TrainIterations / 10);
        var config = new Map
        {
            { "pipe_parallel_size", 1L },
            { "model_parallel_size", 1L },
            { "num_layers", a.Layers },
            { "hidden_size", a.Hidden },
            { "num_attention_heads", a.Heads },
            { "qkv_slot_num", t.Qkv },
            { "proj_slot_num", t.Proj },
            { "ffn_slot_num", t.Ffn },
            { "seq_length", a.Context },
            { "max_position_embeddings", a.Context },
            { "pos_emb", "rotary" },
            { "rotary_pct", a.RotaryFraction },
            { "rotary_emb_base", (long)a.RotaryBase },
            { "no_weight_tying", false },
            { "norm", "layernorm_nonparam" },
            { "final_norm", "layernorm" },
            { "gpt_j_residual", false },
            { "output_layer_parallelism", "column" },
            { "use_bias_in_attn_linear", false },
            { "attention_config", new List<object> { new List<object> { new List<object> { "tokenformer" }, a.Layers } } },
            { "norm_activation_type", a.Norm.SpecName() },
            { "scaled_upper_triang_masked_softmax_fusion", false },
            { "bias_gelu_fusion", false },
            { "rope_fusion", false },
            { "layernorm_fusion", false },
            { "init_method", "normal" },
            { "output_layer_init_method", "wang_init" },
            { "make_vocab_size_divisible_by", VocabularyDivisor(handOff.TokenizerVocabulary, a.PaddedVocabulary)!.Value },
            { "tokenizer_type", "HFTokenizer" },
            { "vocab_file", handOff.TokenizerFile },
            {
                "optimizer", new Map
                {
                    { "type", "Adam" },
                    { "params", new Map { { "lr", training.LearningRate }, { "betas", new List<object> { 0.9, 0.95 } }, { "eps", 1e-8 } } },
                }
            },
            { "min_lr", training.LearningRate * 0.1 },
            {
                "zero_optimization", new Map
                {
                    { "stage", 1L }, { "allgather_partitions", true }, { "allgather_bucket_size", 500_000_000L }, { "overlap_comm", true },
                    { "reduce_scatter", true }, { "reduce_bucket_size", 500_000_000L }, { "contiguous_gradients", true },
                }
            },
            { "train_batch_size", training.MicroBatch },
            { "gradient_accumulation_steps", 1L },
            { "data_impl", "mmap" },
            { "data_path", handOff.DataPrefix },
            { "split", "95,5,0" },
            { "checkpoint_activations", true },
            { "checkpoint_num_layers", 1L },
            { "partition_activations", true },
            { "synchronize_each_layer", true },
            { "gradient_clipping", 1.0 },
            { "weight_decay", 0.1 },
            { "hidden_dropout", 0.0 },
            { "attention_dropout", 0.0 },
            {
                "fp16", new Map
                {
                    { "fp16", true }, { "enabled", true }, { "loss_scale", 0L }, { "loss_scale_window", 1000L },
                    { "initial_scale_power", 12L }, { "hysteresis", 2L }, { "min_loss_scale", 1L },
                }
            },
            { "train_iters", training.TrainIterations },
            { "lr_decay_iters", training.TrainIterations },
            { "lr_decay_style", "cosine" },
            { "warmup", training.Warmup },
            { "distributed_backend", "nccl" },
            { "checkpoint_factor", checkpointEvery },
            { "eval_interval", checkpointEvery },
            { "eval_iters", 10L },
            { "log_interval", 10L },
            { "steps_per_print", 10L },
            { "use_wandb", false },
        };
        if (handOff.Route == NeoXRoute.Continue)
        {
            config.Add("load", handOff.Checkpoint);
            config.Add("save", handOff.Save);
            config.Add("finetune", true);
        }
        else
        {
            config.Add("pretrain_partial_init", handOff.Checkpoint);
            config.Add("load", handOff.Save);
            config.Add("save", handOff.Save);
        }
        return config;
    }

    /// <summary>The YAML text of a config: JSON-style flow mappings (as the official configs are written) after comment lines.</summary>
    public static string Render(Map config, IEnumerable<string> comments)
    {
        var text = new StringBuilder();
        foreach (var comment in comments)
            foreach (var line in comment.Split('\n'))
                text.Append("# ").Append(line).Append('\n');
        WriteMap(text, config, "");
        return text.Append('\n').ToString();
    }

    private static void WriteMap(StringBuilder text, Map map, string indent)
    {
        text.Append("{\n");
        for (var i = 0; i < map.Count; i++)
        {
            text.Append(indent).Append("  ").Append(Quote(map[i].Key)).Append(": ");
            if (map[i].Value is Map nested) WriteMap(text, nested, indent + "  ");
            else WriteValue(text, map[i].Value);
            text.Append(i + 1 < map.Count ? ",\n" : "\n");
        }
        text.Append(indent).Append('}');
    }

    private static void WriteValue(StringBuilder text, object value)
    {
        switch (value)
        {
            case bool b: text.Append(b ? "true" : "false"); break;
            case long l: text.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: text.Append(Float(d)); break;
            case string s: text.Append(Quote(s)); break;
            case List<object> list:
                text.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) text.Append(", ");
                    WriteValue(text, list[i]);
                }
                text.Append(']');
                break;
            case Map map:
                text.Append("{ ");
                for (var i = 0; i < map.Count; i++)
                {
                    if (i > 0) text.Append(", ");
                    text.Append(Quote(map[i].Key)).Append(": ");
                    WriteValue(text, map[i].Value);
                }
                text.Append(" }");
                break;
            default: throw new ArgumentException($"a config value of type {value.GetType().Name} has no YAML form here");
        }
    }

    // PyYAML (YAML 1.1) reads a float only with a dot and a signed exponent: 1e-08 would be a string.
    internal static string Float(double value)
    {
        if (!double.IsFinite(value)) throw new ArgumentException($"{value} has no YAML form the trainer reads");
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E');
        var mantissa = e < 0 ? text : text[..e];
        if (!mantissa.Contains('.')) mantissa += ".0";
        return e < 0 ? mantissa : mantissa + "e" + (text[e + 1] is '-' or '+' ? text[(e + 1)..] : "+" + text[(e + 1)..]);
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
