using System.Globalization;
using System.Text.RegularExpressions;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Generated;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Handoff;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Cli.Tests;

/// <summary>The commands on the tiny Mini family: inspect, train, grow, eval, generate, logits, import and export.</summary>
public sealed partial class CommandTests
{
    [Theory]
    [InlineData("--help")]
    [InlineData("run", "--help")]
    [InlineData("train", "--help")]
    [InlineData("grow", "--help")]
    [InlineData("eval", "--help")]
    [InlineData("inspect", "--help")]
    [InlineData("generate", "--help")]
    [InlineData("logits", "--help")]
    [InlineData("import", "--help")]
    [InlineData("export", "--help")]
    [InlineData("data", "export", "--help")]
    public void HelpEverywhere(params string[] args)
    {
        var output = TestCli.Ok(args);
        Assert.Contains("USAGE:", output);
        if (args.Length == 1)
            foreach (var command in new[] { "run", "train", "grow", "eval", "inspect", "generate", "logits", "serve", "import", "export" })
                Assert.Contains(command, output);
    }

    [Fact]
    public void InspectListsEveryFamilyAndStage()
    {
        var output = TestCli.Ok("inspect");
        Assert.Matches(@"Mini\s*│\s*Small\s*│\s*│\s*8\.22K\s*│\s*8/8/32\s*│\s*3\.84K\s*│\s*byte", output);
        Assert.Matches(@"Mini\s*│\s*Large\s*│\s*Small", output);
        Assert.Matches(@"Solo\s*│\s*Only", output);
    }

    [Fact]
    public void InspectShowsAFamilyWithCondensedAndFullGrowthMaps()
    {
        var output = TestCli.Ok("inspect", "--family", "Mini");
        Assert.Contains("vocabulary 256 (padded 256, byte tokenizer), context 32, tokenformer blocks, hidden 16, 2 heads", output);
        Assert.Matches(@"Small\s*│\s*│\s*2\s*│\s*8/8/32", output);   // each stage states its depth
        Assert.Matches(@"Large\s*│[^\n]*12/16/48\s*│\s*√8/√8/√32\s*│", output);   // τ kept from Small, spelled as the √n it is
        Assert.Contains(MiniSmall.Info.Parameters.ToString("N0", CultureInfo.InvariantCulture), output);
        Assert.Contains(MiniLarge.Info.Parameters.ToString("N0", CultureInfo.InvariantCulture), output);
        Assert.Contains("growth map Small → Large (spec: zero_keys; zero_keys keeps the function, random changes it)", output);
        Assert.Matches(@"layers\.\*\.mlp\.key_param_tokens\s*│\s*× 2\s*│\s*\[32, 16\]\s*│\s*\[48, 16\]\s*│\s*\+16 on axis 0\s*│\s*zero\s*│\s*N\(0, 0\.02²\)", output);
        Assert.Matches(@"layers\.\*\.attention\.proj\.value_param_tokens\s*│\s*× 2\s*│\s*\[8, 16\]\s*│\s*\[16, 16\]\s*│\s*\+8 on axis 0\s*│\s*N\(0,", output);
        Assert.Matches(@"word_embeddings\.weight\s*│\s*│\s*\[256, 16\]\s*│\s*\[256, 16\]\s*│\s*copied", output);
        Assert.DoesNotContain("layers.1.", output);

        var full = TestCli.Ok("inspect", "--family", "Mini", "--full");
        Assert.Contains("layers.1.mlp.key_param_tokens", full);
        Assert.Equal(MiniSmallToLarge.Map.Rows.Count, Regex.Matches(full, @"│ (layers\.\d|word_|final_)").Count);
    }

    [Fact]
    public void InspectAndEvalSayWhatPrecisionACheckpointWasTrainedIn()
    {
        var run = TestData.NewDirectory("bf16-trained");
        TestCli.Ok("train", "--family", "Solo", "--steps", "2", "--batch", "2", "--precision", "bf16", "--out", run);
        var checkpoint = TrainingCheckpoints.Latest(run)!;
        var inspected = TestCli.Ok("inspect", "--checkpoint", checkpoint);
        Assert.Matches(@"trained in\s*│\s*bf16", inspected);
        Assert.Matches(@"stored dtype\s*│\s*F32", inspected);
        Assert.Matches(@"family/stage\s*│\s*Solo/Only", inspected);
        Assert.Contains("Solo/Only (step 2, trained in bf16): validation loss", TestCli.Ok("eval", "--checkpoint", checkpoint));
        Assert.Contains("trained in fp32", TestCli.Ok("eval", "--checkpoint", MiniCheckpoints.Small));
    }

    [Fact]
    public void SingleStageFamilyNeedsNoStage()
    {
        var run = TestData.NewDirectory("solo");
        var output = TestCli.Ok("train", "--family", "Solo", "--steps", "3", "--batch", "2", "--out", run);
        Assert.Contains("training Solo/Only", output);
        Assert.Equal(3, Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(run)!).Step);
    }

    [Fact]
    public void TrainWritesMetricsAndCheckpointsAndResumesFromItsFolder()
    {
        var run = TestData.NewDirectory("train");
        var metrics = Path.Combine(run, "m.jsonl");
        var output = TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "8", "--checkpoint-every", "4", "--eval-every", "4", "--metrics", metrics, "--out", run);
        Assert.Contains("initialised from scratch", output);
        var lines = File.ReadAllLines(metrics).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var steps = lines.Where(l => l.TryGetProperty("loss", out _)).ToList();
        Assert.Equal(Enumerable.Range(1, 8), steps.Select(l => l.GetProperty("step").GetInt32()));
        foreach (var key in new[] { "step", "loss", "tokens", "flops", "wall_s", "tokens_per_s" })
            Assert.All(steps, l => Assert.True(l.TryGetProperty(key, out _), key));
        Assert.Equal(8 * 4 * 32, steps[^1].GetProperty("tokens").GetInt64());
        Assert.Equal(8 * 4 * 32 * (double)MiniSmall.Info.TrainingFlopsPerToken, steps[^1].GetProperty("flops").GetDouble(), 1e-6);
        Assert.Equal(2, lines.Count(l => l.TryGetProperty("val_loss", out _)));
        Assert.Equal(8, Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(run)!).Step);

        // The same command again finds the finished run; a longer one resumes from it.
        Assert.Contains("resumed from step 8", TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "8", "--metrics", metrics, "--out", run));
        Assert.Contains("resumed from step 8", TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "10", "--metrics", metrics, "--out", run));
        Assert.Equal(10, Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(run)!).Step);
    }

    [Fact]
    public void TrainFromACheckpointOfTheSameStageOrGrownFromItsParent()
    {
        var same = TestData.NewDirectory("from-same");
        Assert.Contains($"initialised from {MiniCheckpoints.Small}", TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--from", MiniCheckpoints.Small, "--steps", "2", "--out", same));

        var grown = TestData.NewDirectory("from-parent");
        var output = TestCli.Ok("train", "--family", "Mini", "--stage", "Large", "--from", MiniCheckpoints.Small, "--steps", "2", "--out", grown, "--optimizer-growth", "reset");
        var match = Regex.Match(output, @"grew Mini/Small → Large from .* \(zero_keys\): validation loss (\S+) → (\S+) ");
        Assert.True(match.Success, output);
        Assert.InRange(Math.Abs(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture)), 0, 1e-4);
        Assert.Equal("Large", Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(grown)!).Stage);
    }

    [Fact]
    public void GrowThenEvalKeepsTheLossWithZeroKeys()
    {
        var small = EvalLoss(MiniCheckpoints.Small);
        var large = EvalLoss(MiniCheckpoints.Large);
        Assert.InRange(Math.Abs(small - large), 0, 1e-4);
        var metadata = Checkpoint.ReadMetadata(MiniCheckpoints.Large);
        Assert.Equal(("Mini", "Large", 0L), (metadata.Family, metadata.Stage, metadata.Step));

        // Random growth is allowed, but it changes the function.
        var random = Path.Combine(TestData.NewDirectory("grow-random"), "random.safetensors");
        Assert.Contains("does not preserve the function", TestCli.Ok("grow", "--from", MiniCheckpoints.Small, "--policy", "random", "--out", random));
        Assert.NotEqual(Math.Round(small, 4), Math.Round(EvalLoss(random), 4));
    }

    [Fact]
    public void GrowCheckMeasuresBothCheckpointsAndReportsTheMapsVerdict()
    {
        var kept = Path.Combine(TestData.NewDirectory("grow-check"), "large.safetensors");
        var output = TestCli.Ok("grow", "--from", MiniCheckpoints.Small, "--out", kept, "--check", "--eval-batches", "2");
        var match = Regex.Match(output, @"check: validation loss (\S+) → (\S+) \(Δ \S+\), function kept within 0\.0001");
        Assert.True(match.Success, output);
        Assert.InRange(Math.Abs(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture)), 0, 1e-4);

        var random = Path.Combine(TestData.NewDirectory("grow-check-random"), "random.safetensors");
        var changed = TestCli.Ok("grow", "--from", MiniCheckpoints.Small, "--policy", "random", "--out", random, "--check", "--eval-batches", "2");
        Assert.Matches(@"check: validation loss \S+ → \S+ \(Δ [+-]\S+\)\r?\n", changed);   // measured, not judged: random growth changes the function
    }

    private static double EvalLoss(string checkpoint)
    {
        var output = TestCli.Ok("eval", "--checkpoint", checkpoint);
        var match = Regex.Match(output, @"validation loss (\S+) nats/token, perplexity \S+, (\S+) bits/byte");
        Assert.True(match.Success, output);
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public void LogitsAreTheModelsOutput()
    {
        var path = Path.Combine(TestData.NewDirectory("logits"), "logits.safetensors");
        Assert.Contains("wrote logits [4, 256] float32", TestCli.Ok("logits", "--checkpoint", MiniCheckpoints.Large, "--tokens", "72, 101,108,108", "--out", path));
        using var written = SafeTensorsFile.Read(path);
        var logits = Assert.Single(written.Tensors);
        Assert.Equal("logits", logits.Key);
        Assert.Equal(ScalarType.Float32, logits.Value.dtype);
        Assert.Equal(new long[] { 4, 256 }, logits.Value.shape);
        Assert.Equal("72,101,108,108", written.Metadata["tokens"]);

        using var model = new MiniLarge();
        Checkpoint.Load(MiniCheckpoints.Large, model);
        model.eval();
        using var _ = no_grad();
        using var expected = model.call(tensor(new long[] { 72, 101, 108, 108 }).unsqueeze(0))[0];
        Assert.True(BitEqual(expected, logits.Value));
    }

    [Fact]
    public void GenerateIsSeededAndTheCacheChangesNothing()
    {
        string Generate(params string[] extra) => TestCli.Ok(["generate", "--checkpoint", MiniCheckpoints.Large, "--prompt", "the king", "--length", "20", .. extra]);
        var first = Generate("--seed", "3");
        Assert.Contains("the king", first);
        Assert.Equal(first, Generate("--seed", "3"));
        Assert.Equal(Generate("--temperature", "0"), Generate("--temperature", "0", "--no-cache"));
    }

    [Fact]
    public void ABusyMachineIsReportedOnStandardErrorAndTheOutputStaysTheSame()
    {
        string[] command = ["eval", "--checkpoint", MiniCheckpoints.Large];
        var quiet = TestCli.RunWith(TestData.Defaults with { Threads = 2, LoadAverage = () => 0.1 }, command);
        var busy = TestCli.RunWith(TestData.Defaults with { Threads = 2, LoadAverage = () => 6.8 }, command);
        Assert.Equal((0, 0), (quiet.ExitCode, busy.ExitCode));
        Assert.Equal(quiet.Out, busy.Out);
        Assert.Equal("", quiet.Error);
        var warning = Assert.Single(busy.ErrorLines);
        Assert.StartsWith("warning: the machine is busy (load average 6.8 on ", warning);
    }

    [Fact]
    public void ImportExportImportIsBitExact()
    {
        var directory = TestData.NewDirectory("official");
        var first = Path.Combine(directory, "first");
        var second = Path.Combine(directory, "second");
        var output = TestCli.Ok("export", "--checkpoint", MiniCheckpoints.Large, "--official", first);
        Assert.Contains("exported Mini/Large", output);
        Assert.Contains("note: τ", output);   // the grown stage keeps its parent's τ, which the official code would not

        var imported = Path.Combine(directory, "imported.safetensors");
        TestCli.Ok("import", "--official", Path.Combine(first, OfficialCheckpoint.FileName), "--family", "Mini", "--stage", "Large", "--out", imported);
        TestCli.Ok("export", "--checkpoint", imported, "--official", second);
        var again = Path.Combine(directory, "again.safetensors");
        TestCli.Ok("import", "--official", Path.Combine(second, OfficialCheckpoint.FileName), "--family", "Mini", "--stage", "Large", "--out", again);

        AssertSameTensors(MiniCheckpoints.Large, imported);
        AssertSameTensors(imported, again);
        var official = OfficialCheckpoint.Read(Path.Combine(first, OfficialCheckpoint.FileName), 2);
        var officialAgain = OfficialCheckpoint.Read(Path.Combine(second, OfficialCheckpoint.FileName), 2);
        try
        {
            Assert.Equal(official.Keys.Order(), officialAgain.Keys.Order());
            Assert.All(official, kv => Assert.True(BitEqual(kv.Value, officialAgain[kv.Key]), kv.Key));
        }
        finally
        {
            foreach (var t in official.Values.Concat(officialAgain.Values)) t.Dispose();
        }
        Assert.Equal(File.ReadAllText(Path.Combine(first, "Mini_Large.yml")), File.ReadAllText(Path.Combine(second, "Mini_Large.yml")));

        var config = File.ReadAllText(Path.Combine(first, "Mini_Large.yml"));
        foreach (var entry in new[] { "\"qkv_slot_num\": 12,", "\"proj_slot_num\": 16,", "\"ffn_slot_num\": 48,", "\"norm_activation_type\": \"l2_norm_gelu\",",
                                      "\"num_layers\": 2,", "\"hidden_size\": 16,", "\"num_attention_heads\": 2,", "\"rotary_pct\": 0.5,", "\"seq_length\": 32,",
                                      "\"max_position_embeddings\": 32,", "\"make_vocab_size_divisible_by\": 128,", "\"attention_config\": [[[\"tokenformer\"], 2]]," })
            Assert.Contains(entry, config);
    }

    private static void AssertSameTensors(string left, string right)
    {
        using var a = SafeTensorsFile.Read(left);
        using var b = SafeTensorsFile.Read(right);
        Assert.Equal(a.Tensors.Keys.Order(), b.Tensors.Keys.Order());
        foreach (var (name, tensor) in a.Tensors)
            Assert.True(BitEqual(tensor, b.Tensors[name]), $"{name} differs between {left} and {right}");
    }

    private static bool BitEqual(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype || !a.shape.SequenceEqual(b.shape)) return false;
        using var x = a.contiguous();
        using var y = b.contiguous();
        return x.bytes.SequenceEqual(y.bytes);
    }
}
