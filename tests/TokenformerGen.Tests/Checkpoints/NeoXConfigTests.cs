using System.Text.Json;
using TokenformerGen.Checkpoints;
using TokenformerGen.Families;
using TokenformerGen.Handoff;
using TokenformerGen.Modules;
using TokenformerGen.Tests.Support;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class NeoXConfigTests : TempFolderTest
{
    private static StageInfo Stage(string name) => ModelRegistry.Family("Sample").Stage(name).Info;

    private static NeoXHandOff HandOff(NeoXRoute route) => new(route, "handoff/checkpoints", "handoff/checkpoints", "handoff/data/book_text_document", "handoff/tokenizer.json", 256);

    [Fact]
    public void TheKeyListIsTheTrainersAndHasItsProvenance()
    {
        var header = File.ReadLines(NeoXConfigKeys.TsvPath).TakeWhile(l => l.StartsWith('#')).ToList();
        Assert.Contains(header, l => l.Contains("Haiyang-W/TokenFormer at commit 4d56c73f407635e62f6df16b97dc897b4477129e"));
        Assert.Contains(header, l => l.Contains("megatron/neox_arguments/neox_args.py"));
        Assert.Equal(276, NeoXConfigKeys.Accepted.Count);
        Assert.Equal("int", NeoXConfigKeys.Accepted["qkv_slot_num"]);
        Assert.Equal("str", NeoXConfigKeys.Accepted["pretrain_partial_init"]);
        Assert.Equal("int", NeoXConfigKeys.Accepted["rotary_emb_base"]);
        Assert.False(NeoXConfigKeys.Accepted.ContainsKey("tokenizer"));   // an unannotated class attribute, not a field
    }

    [Theory]
    [InlineData(NeoXRoute.Continue)]
    [InlineData(NeoXRoute.Grow)]
    public void EveryKeyIsOneTheTrainerAcceptsWithItsType(NeoXRoute route)
    {
        var stage = Stage(route == NeoXRoute.Continue ? "Small" : "Medium");
        var yaml = NeoXConfig.Render(NeoXConfig.Build(stage, HandOff(route)), ["a comment", "two\nlines"]);
        Assert.Empty(NeoXConfigKeys.Problems(yaml, out var config));

        Assert.Equal((2L, 16L, 2L), (config["num_layers"], config["hidden_size"], config["num_attention_heads"]));
        Assert.Equal((stage.Tokens.Qkv, stage.Tokens.Proj, stage.Tokens.Ffn), (config["qkv_slot_num"], config["proj_slot_num"], config["ffn_slot_num"]));
        Assert.Equal("[[[\"tokenformer\"],2]]", JsonSerializer.Serialize(config["attention_config"]));
        Assert.Equal(("l2_norm_gelu", 0.5, 10000L), (config["norm_activation_type"], config["rotary_pct"], config["rotary_emb_base"]));
        Assert.Equal(("HFTokenizer", "handoff/tokenizer.json", 128L), (config["tokenizer_type"], config["vocab_file"], config["make_vocab_size_divisible_by"]));
        Assert.Equal("handoff/data/book_text_document", config["data_path"]);
        var optimizer = (Dictionary<string, object?>)config["optimizer"]!;
        var parameters = (Dictionary<string, object?>)optimizer["params"]!;
        Assert.Equal((0.01, 1e-8), (parameters["lr"], parameters["eps"]));   // the stage's budget; eps read as a float, not "1e-08"
        // Budget: 3072 tokens / (batch 4 × context 32) = 24 steps; a checkpoint every tenth.
        Assert.Equal((4L, 24L, 24L, 2L, 0.1), (config["train_batch_size"], config["train_iters"], config["lr_decay_iters"], config["checkpoint_factor"], config["warmup"]));
        if (route == NeoXRoute.Continue)
        {
            Assert.Equal(("handoff/checkpoints", "handoff/checkpoints", true), (config["load"], config["save"], config["finetune"]));
            Assert.False(config.ContainsKey("pretrain_partial_init"));
        }
        else
        {
            Assert.Equal(("handoff/checkpoints", "handoff/checkpoints"), (config["pretrain_partial_init"], config["load"]));
            Assert.False(config.ContainsKey("finetune"));
        }
    }

    [Fact]
    public void TheCheckerCatchesWhatTheTrainerWouldRefuse()
    {
        var yaml = NeoXConfig.Render(NeoXConfig.Build(Stage("Small"), HandOff(NeoXRoute.Continue)), []);
        Assert.Contains("unknown key tokenizer", NeoXConfigKeys.Problems(yaml.Replace("\"tokenizer_type\"", "\"tokenizer\""), out _));
        Assert.Contains("rotary_emb_base: the float 10000 is not int", NeoXConfigKeys.Problems(yaml.Replace("\"rotary_emb_base\": 10000", "\"rotary_emb_base\": 10000.0"), out _));
        Assert.Contains("weight_decay: the string \"1e-1\" is not float", NeoXConfigKeys.Problems(yaml.Replace("\"weight_decay\": 0.1", "\"weight_decay\": 1e-1"), out _));
        Assert.Contains("no data_path", NeoXConfigKeys.Problems(yaml.Replace("\"data_path\"", "\"data_paths\""), out _));
    }

    [Fact]
    public void PyYamlReadsItToTheSameValues()
    {
        if (Python.Find() is not { } python) return;   // optional: the trainer's own YAML reader
        var yaml = NeoXConfig.Render(NeoXConfig.Build(Stage("Medium"), HandOff(NeoXRoute.Grow)), ["comment"]);
        var path = PathOf("config.yml");
        File.WriteAllText(path, yaml);
        const string script = """
            import json, sys
            try:
                import yaml
            except ImportError:
                print("null"); sys.exit(0)
            config = yaml.load(open(sys.argv[1]), Loader=yaml.FullLoader)
            print(json.dumps({k: type(v).__name__ for k, v in config.items()}))
            """;
        var output = Python.Run(python, Folder, script, path).Trim();
        if (output == "null") return;
        using var types = JsonDocument.Parse(output);
        NeoXConfigKeys.Problems(yaml, out var config);
        foreach (var property in types.RootElement.EnumerateObject())
        {
            var expected = config[property.Name] switch
            {
                long => "int", double => "float", string => "str", bool => "bool", List<object?> => "list", Dictionary<string, object?> => "dict", _ => "NoneType",
            };
            Assert.True(expected == property.Value.GetString(), $"{property.Name}: PyYAML reads {property.Value.GetString()}, the checker {expected}");
        }
        Assert.Equal(config.Count, types.RootElement.EnumerateObject().Count());
    }

    [Theory]
    [InlineData(6.0e-4, "0.0006")]
    [InlineData(6.0e-5, "6.0e-05")]
    [InlineData(1e-8, "1.0e-08")]
    [InlineData(1e20, "1.0e+20")]
    [InlineData(2.5, "2.5")]
    [InlineData(3.0, "3.0")]
    public void FloatsAreWrittenSoPyYamlReadsFloats(double value, string text) => Assert.Equal(text, NeoXConfig.Float(value));

    [Fact]
    public void AVocabularyTheTrainersPaddingCannotReachIsRefused()
    {
        Assert.Equal(128L, NeoXConfig.VocabularyDivisor(50277, 50304));
        Assert.Equal(128L, NeoXConfig.VocabularyDivisor(250, 256));
        Assert.Equal(320L, NeoXConfig.VocabularyDivisor(256, 320));   // no power of two pads 256 to 320: the padded size itself
        Assert.Null(NeoXConfig.VocabularyDivisor(512, 256));   // CharLevelTokenizer's 512 ids never fit 256 rows
        Assert.Contains("512", NeoXConfig.Refusal(Stage("Small"), 512));
        Assert.Throws<ArgumentException>(() => NeoXConfig.Build(Stage("Small"), HandOff(NeoXRoute.Continue) with { TokenizerVocabulary = 512 }));
    }
}
