using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Handoff;
using TokenformerGen.Modules;
using TokenformerGen.Tests.Support;
using TokenformerGen.Text.Data;
using static TorchSharp.torch;

namespace TokenformerGen.Cli.Tests;

/// <summary>Handing a checkpoint to the official trainer and back: export --neox, import --neox, data export, --data PREFIX.</summary>
public sealed class NeoXHandOffTests
{
    private static readonly Lazy<string> TrainedSmall = new(() =>
    {
        var run = Path.Combine(TestData.NewDirectory("neo-small"), "run");
        TestCli.Ok("train", "--family", "Neo", "--stage", "Small", "--steps", "2", "--out", run);
        return TokenformerGen.Training.TrainingCheckpoints.Latest(run)!;
    });

    [Fact]
    public void ContinueRouteRoundTripsBitExactlyAndTheConfigIsOneTheTrainerAccepts()
    {
        var folder = Path.Combine(TestData.NewDirectory("handoff"), "out");
        var output = TestCli.Ok("export", "--checkpoint", TrainedSmall.Value, "--neox", folder);
        Assert.Contains("continue route", output);

        var checkpoints = Path.Combine(folder, "checkpoints");
        var step = Checkpoint.ReadMetadata(TrainedSmall.Value).Step;
        Assert.Equal(DeepSpeedCheckpoint.TagFor(step), File.ReadAllText(Path.Combine(checkpoints, "latest")));
        Assert.True(File.Exists(Path.Combine(checkpoints, DeepSpeedCheckpoint.TagFor(step), DeepSpeedCheckpoint.ModelStatesFile)));
        Assert.Equal(NeoXTokenizer.Json(), File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")));
        var dataset = NeoXDataset.ReadInfo(Path.Combine(folder, "data", "corpus_text_document"));
        Assert.Equal((8, 1L), (dataset.DTypeCode, dataset.Documents));   // uint16, the whole text one document

        var yaml = File.ReadAllText(Path.Combine(folder, "Neo_Small.yml"));
        Assert.Empty(NeoXConfigKeys.Problems(yaml, out var config));
        Assert.Equal((folder + "/checkpoints", folder + "/checkpoints", true), (config["load"], config["save"], config["finetune"]));
        Assert.Equal((folder + "/tokenizer.json", folder + "/data/corpus_text_document"), (config["vocab_file"], config["data_path"]));
        Assert.Equal((4L, 4L, 16L, 128L), (config["qkv_slot_num"], config["proj_slot_num"], config["ffn_slot_num"], config["make_vocab_size_divisible_by"]));

        var back = Path.Combine(folder, "back.safetensors");
        var imported = TestCli.Ok("import", "--neox", checkpoints, "--family", "Neo", "--stage", "Small", "--out", back);
        Assert.Contains("F32 weights widened to float32", imported);
        AssertSameTensors(TrainedSmall.Value, back);
    }

    [Fact]
    public void GrowRouteWritesTheNextStagesShapeAndWeightsTheTrainerCanCopyIntoIt()
    {
        var folder = Path.Combine(TestData.NewDirectory("handoff-grow"), "out");
        var output = TestCli.Ok("export", "--checkpoint", TrainedSmall.Value, "--neox", folder, "--route", "grow");
        Assert.Contains("into Large", output);
        Assert.Contains("random initialisation", output);
        Assert.False(File.Exists(Path.Combine(folder, "checkpoints", "latest")));   // load/save start empty, so partial init runs

        var yaml = File.ReadAllText(Path.Combine(folder, "Neo_Large.yml"));
        Assert.Empty(NeoXConfigKeys.Problems(yaml, out var config));
        Assert.Equal((8L, 6L, 24L), (config["qkv_slot_num"], config["proj_slot_num"], config["ffn_slot_num"]));
        Assert.Equal((folder + "/pretrained", folder + "/checkpoints", folder + "/checkpoints"), (config["pretrain_partial_init"], config["load"], config["save"]));

        // What custom_load_fn_incremental does with it: every key exists in the larger model, *param_tokens fill the first rows, the rest copy exactly.
        using var small = DeepSpeedCheckpoint.Read(Path.Combine(folder, "pretrained"), layers: 1);
        using var large = ModelRegistry.Family("Neo").Stage("Large").Create();
        var target = large.state_dict();
        Assert.Equal(target.Keys.Order(), small.Tensors.Keys.Order());
        foreach (var (name, tensor) in small.Tensors)
        {
            var into = target[name];
            if (name.EndsWith("param_tokens", StringComparison.Ordinal))
            {
                Assert.Equal(into.shape[1..], tensor.shape[1..]);
                Assert.True(tensor.shape[0] <= into.shape[0], name);
            }
            else Assert.Equal(into.shape, tensor.shape);
        }
    }

    [Fact]
    public void DataExportThenTrainAndEvalOnThePrefix()
    {
        var prefix = Path.Combine(TestData.NewDirectory("neox-data"), "corpus_text_document");
        var output = TestCli.Ok("data", "export", "--data", TestData.Corpus, "--family", "Neo", "--out", prefix);
        Assert.Contains("1 documents", output);
        Assert.Contains("uint16", output);

        // ours → NeoX dataset → ours: the dataset's ids are the text's (tokenized by the family's tokenizer) and end-of-text.
        using (var text = TokenCorpus.Open(TestData.Corpus, NeoXTokenizer.Instance, Path.Combine(TestData.Root, "cache")))
        using (var dataset = TokenCorpus.OpenNeoX(prefix, NeoXTokenizer.Instance))
            Assert.Equal([.. text.Read(0, (int)text.Count), 0], dataset.Read(0, (int)dataset.Count));

        var run = Path.Combine(Path.GetDirectoryName(prefix)!, "run");
        var trained = TestCli.Ok("train", "--family", "Neo", "--stage", "Small", "--steps", "2", "--data", prefix + ".bin", "--out", run);
        Assert.Contains("pre-tokenized, so bits per byte are unknown", trained);
        var evaluated = TestCli.Ok("eval", "--checkpoint", TokenformerGen.Training.TrainingCheckpoints.Latest(run)!, "--data", prefix, "--eval-batches", "1");
        Assert.Contains("bits per byte unknown", evaluated);
    }

    [Fact]
    public void ABrokenDatasetIsOneErrorLine()
    {
        var prefix = Path.Combine(TestData.NewDirectory("neox-broken"), "set");
        NeoXDataset.Write(prefix, [[1, 2, 3]], 50277, 0);
        var idx = File.ReadAllBytes(prefix + ".idx");
        idx[0] = (byte)'X';
        File.WriteAllBytes(prefix + ".idx", idx);
        TestCli.Fails("bad magic", "eval", "--checkpoint", TrainedSmall.Value, "--data", prefix);
    }

    [Fact]
    public void RefusalsAreOneErrorLine()
    {
        var folder = TestData.NewDirectory("handoff-refused");
        TestCli.Fails("CharLevelTokenizer has 512 ids", "export", "--checkpoint", MiniCheckpoints.Small, "--neox", Path.Combine(folder, "a"));
        TestCli.Fails("not grown into any stage", "export", "--checkpoint", MiniCheckpoints.Large, "--neox", Path.Combine(folder, "b"), "--route", "grow");
        TestCli.Fails("not one of continue|grow", "export", "--checkpoint", TrainedSmall.Value, "--neox", Path.Combine(folder, "c"), "--route", "sideways");
        TestCli.Fails("give one of --official DIR, --neox DIR and --onnx DIR", "export", "--checkpoint", TrainedSmall.Value);
        TestCli.Fails("no 'latest'", "import", "--neox", folder, "--family", "Neo", "--stage", "Small", "--out", Path.Combine(folder, "x.safetensors"));
        TestCli.Fails("give one of --official FILE and --neox DIR", "import", "--family", "Neo", "--out", Path.Combine(folder, "x.safetensors"));
        TestCli.Fails("--family F (its tokenizer) or --tokenizer FILE", "data", "export", "--out", Path.Combine(folder, "d"));
    }

    private static void AssertSameTensors(string left, string right)
    {
        using var a = SafeTensorsFile.Read(left);
        using var b = SafeTensorsFile.Read(right);
        Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
        foreach (var (name, tensor) in a.Tensors)
        {
            using var x = tensor.contiguous();
            using var y = b.Tensors[name].contiguous();
            Assert.True(x.dtype == y.dtype && x.shape.SequenceEqual(y.shape) && x.bytes.SequenceEqual(y.bytes), $"{name} differs");
        }
    }
}
