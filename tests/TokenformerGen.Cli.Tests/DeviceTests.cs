using System.Globalization;
using System.Text.RegularExpressions;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Tests.Infrastructure;
using TokenformerGen.Devices;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Cli.Tests;

/// <summary><c>--device</c> and <c>--precision</c> on every command that runs a model, on the Mini family.</summary>
public sealed partial class DeviceTests
{
    private const string AutoHere = "device cpu (auto: this build uses TorchSharp's CPU bundle)";

    [Theory]
    [InlineData("run")]
    [InlineData("train")]
    [InlineData("eval")]
    [InlineData("generate")]
    [InlineData("logits")]
    [InlineData("grow")]   // for its --check
    public void EveryCommandThatRunsAModelTakesDeviceAndPrecision(string command)
    {
        var help = TestCli.Ok(command, "--help");
        Assert.Contains("--device", help);
        Assert.Contains("--precision", help);
    }

    [Fact]
    public void EachCommandSaysWhereItComputes()
    {
        Assert.Contains($"{AutoHere}, precision fp32", TestCli.Ok("eval", "--checkpoint", MiniCheckpoints.Small, "--eval-batches", "2"));
        Assert.Contains("device cpu (as asked), precision bf16", TestCli.Ok("generate", "--checkpoint", MiniCheckpoints.Small, "--length", "3", "--device", "cpu", "--precision", "bf16"));
        Assert.Contains($"{AutoHere}, precision bf16", TestCli.Ok("logits", "--checkpoint", MiniCheckpoints.Small, "--tokens", "1,2", "--out", Path.Combine(TestData.NewDirectory("logits-where"), "l.safetensors"), "--precision", "bf16"));
    }

    [Fact]
    public void PrecisionAutoSaysWhatItChoseAndBf16OnASlowCpuWarnsOnStandardError()
    {
        var avx2 = TestData.Defaults with { Cpu = CpuFeatures.With("avx2") };
        string[] eval = ["eval", "--checkpoint", MiniCheckpoints.Small, "--eval-batches", "1"];
        var auto = TestCli.RunWith(avx2, [.. eval, "--precision", "auto"]);
        Assert.Equal((0, ""), (auto.ExitCode, auto.Error));
        Assert.Contains("precision fp32 (auto: this CPU has no avx512_bf16 or amx_bf16 instructions", auto.Out);
        var asked = TestCli.RunWith(avx2, [.. eval, "--precision", "bf16"]);
        Assert.Equal(0, asked.ExitCode);
        Assert.StartsWith("warning: bf16 on this CPU is slow: it has no avx512_bf16 or amx_bf16 instructions", Assert.Single(asked.ErrorLines));
        Assert.Contains("precision bf16 (auto: this CPU has avx512_bf16)", TestCli.Ok([.. eval, "--precision", "auto"]));
    }

    [Fact]
    public void Bf16TrainsSavesFloat32MasterWeightsAndEvaluatesCloseToFp32()
    {
        var run = TestData.NewDirectory("train-bf16");
        var output = TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "6", "--out", run, "--precision", "bf16");
        Assert.Contains($"{AutoHere}, precision bf16", output);
        var checkpoint = TrainingCheckpoints.Latest(run)!;
        Assert.Equal(SafeTensorsDType.DisplayName(ScalarType.Float32), Checkpoint.ReadMetadata(checkpoint).DType);
        using (var optimizer = Checkpoint.LoadOptimizerState(checkpoint))
            Assert.All(optimizer.Tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));

        var fp32 = EvalLoss(checkpoint, "fp32");
        var bf16 = EvalLoss(checkpoint, "bf16");
        Assert.InRange(Math.Abs(bf16 / fp32 - 1), 0, 2e-2);           // the printed losses agree within bf16's rounding ...
        float[] Logits(string precision)
        {
            var path = Path.Combine(run, $"logits-{precision}.safetensors");
            TestCli.Ok("logits", "--checkpoint", checkpoint, "--tokens", "72,101,108,108,111", "--precision", precision, "--out", path);
            using var file = SafeTensorsFile.Read(path);
            return file.Tensors["logits"].data<float>().ToArray();
        }
        var (fp32Logits, bf16Logits) = (Logits("fp32"), Logits("bf16"));
        Assert.NotEqual(fp32Logits, bf16Logits);                      // ... though bf16 really computes in bfloat16
        var scale = fp32Logits.Max(Math.Abs);
        Assert.InRange(fp32Logits.Zip(bf16Logits, (a, b) => Math.Abs(a - b)).Max() / scale, 1e-5, 2e-2);

        // A bf16 run grows and resumes like an fp32 one.
        var grown = TestData.NewDirectory("grow-bf16");
        var growth = TestCli.Ok("train", "--family", "Mini", "--stage", "Large", "--from", checkpoint, "--steps", "2", "--out", grown, "--precision", "bf16");
        var match = GrowthLosses().Match(growth);
        Assert.True(match.Success, growth);
        Assert.InRange(Math.Abs(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture)), 0, Growth.StageGrowth.Bf16Tolerance);
        Assert.Contains("resumed from step 2", TestCli.Ok("train", "--family", "Mini", "--stage", "Large", "--steps", "3", "--out", grown, "--precision", "bf16"));
    }

    [Fact]
    public void GrowChecksInTheAskedPrecisionAtItsTolerance()
    {
        var grown = Path.Combine(TestData.NewDirectory("grow-check-bf16"), "large.safetensors");
        var output = TestCli.Ok("grow", "--from", MiniCheckpoints.Small, "--out", grown, "--check", "--eval-batches", "2", "--precision", "bf16");
        Assert.Contains($"{AutoHere}, precision bf16", output);
        Assert.Matches(@"check: validation loss \S+ → \S+ \(Δ \S+\), function kept within 0\.001\r?\n", output);
        Assert.DoesNotContain("device", TestCli.Ok("grow", "--from", MiniCheckpoints.Small, "--out", grown));   // without --check nothing runs on a device
    }

    [Fact]
    public void Bf16LogitsAreFloat32AndCloseToFp32()
    {
        var directory = TestData.NewDirectory("logits-bf16");
        Tensor Logits(string precision)
        {
            var path = Path.Combine(directory, precision + ".safetensors");
            TestCli.Ok("logits", "--checkpoint", MiniCheckpoints.Large, "--tokens", "72,101,108,108,111", "--out", path, "--precision", precision);
            using var written = SafeTensorsFile.Read(path);
            return written.Tensors["logits"].clone();
        }
        var fp32 = Logits("fp32");
        var bf16 = Logits("bf16");
        Assert.Equal(ScalarType.Float32, bf16.dtype);
        var relative = (bf16 - fp32).abs().max().item<float>() / fp32.abs().max().item<float>();
        Assert.InRange(relative, 1e-5, 2e-2);
    }

    [Fact]
    public void RunTrainsTheWholeScheduleInBf16()
    {
        var folder = TestData.NewDirectory("run-bf16");
        var output = TestCli.Ok("run", "--out", folder, "--evals", "2", "--eval-batches", "2", "--precision", "bf16");
        Assert.Contains($"{AutoHere}, precision bf16", output);
        Assert.Matches(@"Small → Large\s*│\s*zero_keys\s*│\s*\S+\s*│\s*\S+\s*│\s*\S+\s*│\s*preserved", output);
    }

    private static double EvalLoss(string checkpoint, string precision)
    {
        var output = TestCli.Ok("eval", "--checkpoint", checkpoint, "--precision", precision);
        var match = Regex.Match(output, @"validation loss (\S+) nats/token");
        Assert.True(match.Success, output);
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"grew Mini/Small → Large from .* \(zero_keys\): validation loss (\S+) → (\S+) ")]
    private static partial Regex GrowthLosses();
}
