using System.Text.Json;
using System.Text.Json.Nodes;
using TokenformerGen.Data;
using TokenformerGen.Families;
using TokenformerGen.Inference;
using TokenformerGen.Text.Families;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Onnx;

/// <summary>
/// The files ONNX Runtime GenAI reads beside an export: <c>genai_config.json</c> (a <c>decoder</c> model over the
/// export's own input and output names, the padded vocabulary, the KV cache as <c>[batch, kv_heads, sequence, head_dim]</c>,
/// greedy search by default) and <c>tokenizer_config.json</c> (for a folder that holds a Hugging Face <c>tokenizer.json</c>).
/// </summary>
/// <remarks>
/// GenAI left-pads a batch of prompts with <c>pad_token_id</c> and feeds <c>attention_mask</c>; the pad id is the first
/// id past the tokenizer's vocabulary (an embedding row no text produces) when the vocabulary is padded, else the
/// end-of-text id. The past and present buffers are shared (<c>past_present_share_buffer</c>): GenAI binds one buffer of
/// <c>max_length</c> columns per layer's keys and values as both, and the graph's GroupQueryAttention writes each step's
/// keys and values into it in place (the attention mask's width tells the graph how many columns are cached).
/// </remarks>
public static class OnnxGenAiConfig
{
    /// <summary>GenAI's model configuration file.</summary>
    public const string FileName = "genai_config.json";

    /// <summary>The tokenizer configuration GenAI reads with <c>tokenizer.json</c>.</summary>
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    /// <summary>The id GenAI pads shorter prompts of a batch with.</summary>
    public static long PadTokenId(OnnxModelCard card, int? endOfText)
        => card.PaddedVocabulary > card.Vocabulary ? card.Vocabulary : endOfText ?? 0;

    /// <summary><c>genai_config.json</c> for the export <paramref name="card"/> describes; <paramref name="endOfText"/> ends generation.</summary>
    public static string Json(OnnxModelCard card, int? endOfText)
    {
        var pad = PadTokenId(card, endOfText);
        var eos = endOfText ?? pad;
        var config = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["type"] = "decoder",
                ["vocab_size"] = card.PaddedVocabulary,
                ["context_length"] = card.Context,
                ["bos_token_id"] = eos,
                ["eos_token_id"] = eos,
                ["pad_token_id"] = pad,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = card.Model,
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["hidden_size"] = card.Hidden,
                    ["head_size"] = card.HeadDim,
                    ["num_attention_heads"] = card.Heads,
                    ["num_key_value_heads"] = card.Heads,
                    ["num_hidden_layers"] = card.Layers,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = card.InputIds,
                        ["attention_mask"] = card.AttentionMask,
                        ["past_key_names"] = card.PastKey.Replace("{layer}", "%d", StringComparison.Ordinal),
                        ["past_value_names"] = card.PastValue.Replace("{layer}", "%d", StringComparison.Ordinal),
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = card.Logits,
                        ["present_key_names"] = card.PresentKey.Replace("{layer}", "%d", StringComparison.Ordinal),
                        ["present_value_names"] = card.PresentValue.Replace("{layer}", "%d", StringComparison.Ordinal),
                    },
                },
            },
            ["search"] = new JsonObject
            {
                ["do_sample"] = false,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["max_length"] = card.Context,
                ["min_length"] = 0,
                ["past_present_share_buffer"] = true,
                ["repetition_penalty"] = 1.0,
                ["temperature"] = 1.0,
                ["top_k"] = 1,
                ["top_p"] = 1.0,
                ["early_stopping"] = true,
                ["length_penalty"] = 1.0,
                ["no_repeat_ngram_size"] = 0,
                ["diversity_penalty"] = 0.0,
            },
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary><c>tokenizer_config.json</c>: the Hugging Face tokenizer class of the card's tokenizer kind and its special tokens.</summary>
    public static string TokenizerConfigJson(OnnxModelCard card)
    {
        var config = new JsonObject
        {
            ["tokenizer_class"] = card.TokenizerKind == TokenizerKind.Gpt2 ? "GPT2Tokenizer" : "GPTNeoXTokenizer",
            ["model_max_length"] = card.Context,
            ["bos_token"] = "<|endoftext|>",
            ["eos_token"] = "<|endoftext|>",
            ["unk_token"] = "<|endoftext|>",
            ["add_bos_token"] = false,
            ["add_eos_token"] = false,
            ["clean_up_tokenization_spaces"] = false,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
