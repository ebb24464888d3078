using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Generated;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Handoff;

namespace TokenformerGen.Cli.Tests;

/// <summary>Every way the issue says input can be bad: a non-zero exit code and exactly one "error: …" line on stderr.</summary>
public sealed class CliErrorTests
{
    private static void Fails(int exitCode, string expected, params string[] args)
    {
        var result = TestCli.Run(args);
        Assert.True(result.ExitCode == exitCode, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", result.Out + result.Error);   // no stack trace anywhere
    }

    private static string Missing(string name) => Path.Combine(TestData.Root, "does-not-exist", name);

    [Fact]
    public void UnknownFamily() => Fails(1, "Unknown family 'Nope' (known:", "inspect", "--family", "Nope");

    [Theory]
    [InlineData("train", "--family", "Mini", "--stage", "Small", "--steps", "1")]
    [InlineData("run")]
    [InlineData("eval")]
    [InlineData("generate")]
    [InlineData("logits", "--tokens", "1,2", "--out", "unused.safetensors")]
    [InlineData("grow", "--check", "--out", "unused.safetensors")]
    public void CudaOnThisCpuBundleBuildIsOneLineSayingWhy(string command, params string[] rest)
    {
        string[] args = command switch
        {
            "eval" or "generate" or "logits" => [command, "--checkpoint", MiniCheckpoints.Small, .. rest],
            "grow" => [command, "--from", MiniCheckpoints.Small, .. rest],
            _ => [command, .. rest],
        };
        Fails(1, "cuda:1 cannot be used: this build uses TorchSharp's CPU bundle (cpu-linux-x64), which has no CUDA support; build with -p:TorchBackend=cuda-linux", [.. args, "--device", "cuda:1"]);
        Assert.False(File.Exists("unused.safetensors"));   // refused before anything is written
    }

    [Fact]
    public void Fp16AndUnknownDevicesOrPrecisionsAreRefused()
    {
        Fails(1, "fp16 is refused on the CPU: libtorch has no fast float16 kernels there", "eval", "--checkpoint", MiniCheckpoints.Small, "--precision", "fp16");
        Fails(1, "device 'gpu' is not one of cpu, cuda, cuda:N or auto", "train", "--family", "Mini", "--stage", "Small", "--steps", "1", "--device", "gpu");
        Fails(1, "precision 'tf32' is not one of fp32, bf16 or auto", "generate", "--checkpoint", MiniCheckpoints.Small, "--precision", "tf32");
    }

    [Fact]
    public void UnknownFamilyInTrainAndImport()
    {
        Fails(1, "Unknown family 'Nope'", "train", "--family", "Nope", "--steps", "1");
        Fails(1, "Unknown family 'Nope'", "import", "--official", MiniCheckpoints.Small, "--family", "Nope", "--out", Missing("x.safetensors"));
    }

    [Fact]
    public void UnknownStage() => Fails(1, "Family Mini has no stage 'Huge' (stages: Small, Large)", "train", "--family", "Mini", "--stage", "Huge", "--steps", "1");

    [Fact]
    public void StageMustBeNamedForAMultiStageFamily() => Fails(1, "Family Mini has 2 stages (Small, Large): name one", "train", "--family", "Mini", "--steps", "1");

    [Fact]
    public void UnknownStageInGrow() => Fails(1, "has no stage 'Medium'", "grow", "--from", MiniCheckpoints.Small, "--stage", "Medium", "--out", Missing("x.safetensors"));

    [Fact]
    public void MissingDataFile() => Fails(1, "data file '" + Missing("corpus.txt") + "' does not exist", "train", "--family", "Solo", "--steps", "1", "--data", Missing("corpus.txt"), "--out", Missing("run"));

    [Fact]
    public void MissingDataFileInRun() => Fails(1, "does not exist", "run", "--data", Missing("corpus.txt"), "--out", TestData.NewDirectory("run-missing-data"));

    [Fact]
    public void MissingTokenizerFile() => Fails(1, "tokenizer file", "eval", "--checkpoint", MiniCheckpoints.Small, "--tokenizer", Missing("tokenizer.json"));

    [Theory]
    [InlineData("eval")]
    [InlineData("generate")]
    [InlineData("export")]
    [InlineData("logits")]
    public void MissingCheckpoint(string command)
    {
        string[] extra = command switch
        {
            "export" => ["--official", Missing("dir")],
            "logits" => ["--tokens", "1,2", "--out", Missing("l.safetensors")],
            _ => [],
        };
        Fails(1, $"checkpoint '{Missing("c.safetensors")}' does not exist", [command, "--checkpoint", Missing("c.safetensors"), .. extra]);
    }

    [Fact]
    public void MissingCheckpointInGrowAndTrain()
    {
        Fails(1, "does not exist", "grow", "--from", Missing("c.safetensors"), "--out", Missing("x.safetensors"));
        Fails(1, "does not exist", "train", "--family", "Mini", "--stage", "Small", "--from", Missing("c.safetensors"), "--out", TestData.NewDirectory("train-missing"));
    }

    [Fact]
    public void MissingOfficialFile() => Fails(1, "official checkpoint", "import", "--official", Missing("pytorch_model.bin"), "--family", "Mini", "--stage", "Small", "--out", Missing("x.safetensors"));

    [Fact]
    public void CorruptCheckpoint()
    {
        var path = Path.Combine(TestData.NewDirectory("corrupt"), "bad.safetensors");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        Fails(1, $"{path} is not a valid checkpoint", "eval", "--checkpoint", path);
        Fails(1, "is not a valid checkpoint", "generate", "--checkpoint", path);
    }

    [Fact]
    public void TruncatedCheckpoint()
    {
        var path = Path.Combine(TestData.NewDirectory("truncated"), "cut.safetensors");
        var bytes = File.ReadAllBytes(MiniCheckpoints.Small);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Fails(1, "is not a valid checkpoint", "export", "--checkpoint", path, "--official", TestData.NewDirectory("truncated-export"));
    }

    [Fact]
    public void CorruptOfficialFile()
    {
        var path = Path.Combine(TestData.NewDirectory("corrupt-official"), "pytorch_model.bin");
        File.WriteAllText(path, "not a zip");
        Fails(1, "is not a valid checkpoint: not a torch.save zip archive", "import", "--official", path, "--family", "Mini", "--stage", "Small", "--out", Missing("x.safetensors"));
    }

    [Fact]
    public void TrainFromACheckpointOfAnotherStage()
        => Fails(1, "is a checkpoint of Mini/Large; --stage Small takes a checkpoint of Mini/Small", "train", "--family", "Mini", "--stage", "Small", "--from", MiniCheckpoints.Large, "--steps", "1", "--out", TestData.NewDirectory("wrong-from"));

    [Fact]
    public void TrainFromACheckpointOfAnotherFamily()
        => Fails(1, "is a checkpoint of Mini/Small; --stage Only takes a checkpoint of Solo/Only", "train", "--family", "Solo", "--from", MiniCheckpoints.Small, "--steps", "1", "--out", TestData.NewDirectory("wrong-family"));

    [Fact]
    public void TrainIntoAFolderOfAnotherStage()
    {
        var run = TestData.NewDirectory("other-stage");
        TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "2", "--out", run);
        Fails(1, $"{run} holds a training run of Mini/Small, not Mini/Large: give another --out", "train", "--family", "Mini", "--stage", "Large", "--steps", "2", "--out", run);
    }

    [Fact]
    public void GrowFromTheWrongStage()
    {
        Fails(1, "is a checkpoint of Mini/Large, but Mini/Large grows from Small", "grow", "--from", MiniCheckpoints.Large, "--stage", "Large", "--out", Missing("x.safetensors"));
        Fails(1, "Mini/Small is a root stage", "grow", "--from", MiniCheckpoints.Small, "--stage", "Small", "--out", Missing("x.safetensors"));
        Fails(1, "Mini/Large has no stage growing from it", "grow", "--from", MiniCheckpoints.Large, "--out", Missing("x.safetensors"));
    }

    [Fact]
    public void ImportIntoTheWrongStage()
    {
        var official = TestData.NewDirectory("wrong-import");
        TestCli.Ok("export", "--checkpoint", MiniCheckpoints.Small, "--official", official);
        Fails(1, "does not fit:", "import", "--official", Path.Combine(official, OfficialCheckpoint.FileName), "--family", "Mini", "--stage", "Large", "--out", Missing("x.safetensors"));
    }

    [Fact]
    public void CheckpointOfAFamilyTheApplicationLacks()
    {
        var path = Path.Combine(TestData.NewDirectory("alien"), "alien.safetensors");
        using (var model = new MiniSmall())
            Checkpoint.Save(path, model, new CheckpointMetadata("Alien", "Small", "0", 0));
        Fails(1, "is a checkpoint of family 'Alien', which this application does not include", "eval", "--checkpoint", path);
    }

    [Fact]
    public void TamperedCheckpointShapes()
    {
        // A Small file relabelled as Large: the metadata passes, the tensors do not fit.
        var path = Path.Combine(TestData.NewDirectory("relabelled"), "relabelled.safetensors");
        using (var model = new MiniSmall())
            Checkpoint.Save(path, model, new CheckpointMetadata("Mini", "Large", MiniLarge.Info.SpecHash, 0));
        Fails(1, "does not fit:", "eval", "--checkpoint", path);
    }

    [Fact]
    public void StagesWithoutBudgets()
    {
        Fails(1, "Solo/Only has no training budget in its spec: give --steps", "train", "--family", "Solo", "--out", TestData.NewDirectory("solo-no-steps"));
        Fails(1, "family Solo cannot run its schedule", "run", "--family", "Solo", "--out", TestData.NewDirectory("solo-run"));
    }

    [Fact]
    public void BadOptionValues()
    {
        Fails(1, "--tokens: 'x' is not a token id", "logits", "--checkpoint", MiniCheckpoints.Small, "--tokens", "1,x", "--out", Missing("l.safetensors"));
        Fails(1, "--tokens: id 999 is outside the vocabulary 0..255", "logits", "--checkpoint", MiniCheckpoints.Small, "--tokens", "1,999", "--out", Missing("l.safetensors"));
        Fails(1, "--policy: 'sideways' is not one of zero_keys|random", "grow", "--from", MiniCheckpoints.Small, "--policy", "sideways", "--out", Missing("x.safetensors"));
        Fails(1, "--context 99: give 1..32", "train", "--family", "Mini", "--stage", "Small", "--context", "99", "--out", TestData.NewDirectory("ctx"));
        Fails(1, "--scale must be positive", "run", "--scale", "0");
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("inspect", "--bogus")]
    [InlineData("eval")]
    [InlineData("train", "--family", "Mini", "--steps", "many")]
    public void CommandLinesThatDoNotParse(params string[] args)
    {
        var result = TestCli.Run(args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("error: ", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void OnnxExportsAndFoldersThatDoNotFit()
    {
        var notes = TestData.NewDirectory("onnx-not-empty");
        File.WriteAllText(Path.Combine(notes, "keep.txt"), "mine");
        Fails(1, "is not empty and does not hold an earlier export", "export", "--checkpoint", MiniCheckpoints.Small, "--onnx", notes);
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(notes).Select(Path.GetFileName));

        // A checkpoint whose tensors are Small's but whose metadata says Large does not fit the Large model.
        var mislabelled = Path.Combine(TestData.NewDirectory("onnx-mislabelled"), "large.safetensors");
        using (var small = new MiniSmall())
        {
            Checkpoint.Load(MiniCheckpoints.Small, small);
            Checkpoint.Save(mislabelled, small, new CheckpointMetadata("Mini", "Large", MiniLarge.Info.SpecHash, 6));
        }
        var target = Path.Combine(TestData.NewDirectory("onnx-refused"), "out");
        Fails(1, "does not fit: shape: layers.0.attention.query.key_param_tokens: file has F32 [8, 16], model expects F32 [12, 16]", "export", "--checkpoint", mislabelled, "--onnx", target);
        Assert.False(Directory.Exists(target));

        Fails(1, "is not a folder written by export --onnx", "generate", "--onnx", TestData.NewDirectory("onnx-empty"));
        Fails(1, "does not exist", "generate", "--onnx", Path.Combine(TestData.Root, "no-such-export"));
        Fails(2, "give one of --checkpoint FILE and --onnx DIR", "generate");
        Fails(2, "go with --checkpoint", "generate", "--onnx", OnnxTests.ExportedLarge, "--precision", "bf16");
        Fails(2, "give one of --official DIR, --neox DIR and --onnx DIR", "export", "--checkpoint", MiniCheckpoints.Small, "--onnx", notes, "--official", notes);

        // Quantized exports: an unknown precision, and int4 blocks wider than Mini's 16-wide embedding.
        Fails(2, "--weights int3: an ONNX export stores fp32, int8, int4", "export", "--checkpoint", MiniCheckpoints.Small, "--onnx", target, "--weights", "int3");
        Fails(1, "word_embeddings.weight is 16 wide, not a whole number of int4 blocks of 32", "export", "--checkpoint", MiniCheckpoints.Small, "--onnx", target, "--weights", "int4");
        Fails(1, "int4 block 48: MatMulNBits takes a power of two from 16 to 256", "export", "--checkpoint", MiniCheckpoints.Small, "--onnx", target, "--weights", "int4", "--block", "48");
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void ServeOptionsAndFoldersThatDoNotFit()
    {
        Fails(1, "host 'example.invalid' is not an IP address or localhost", "serve", "--onnx", OnnxTests.ExportedLarge, "--host", "example.invalid");
        Fails(1, "port 70000 is not between 0 and 65535", "serve", "--onnx", OnnxTests.ExportedLarge, "--port", "70000");
        Fails(1, "--max-batch 0: give at least 1", "serve", "--onnx", OnnxTests.ExportedLarge, "--max-batch", "0");
        Fails(1, "does not exist", "serve", "--onnx", Path.Combine(TestData.Root, "no-such-export"));
        Fails(1, "is not a folder written by export --onnx", "serve", "--onnx", TestData.NewDirectory("serve-empty"), "--port", "0");
    }

    [Fact]
    public void TheGrowthPolicyHelpListsExactlyTheSpecsSpellings()
        => Assert.Equal(TokenformerGen.Cli.Infrastructure.OptionParsing.PolicyChoices, TokenformerGen.Declarations.SpecChoices.Growth.Join("|"));
}
