using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Modules;
using TokenformerGen.Tests.Reference;
using TokenformerGen.Tests.Training;
using TokenformerGen.Text.Inference;
using TokenformerGen.Training;
using Xunit.Abstractions;
using static TokenformerGen.Tests.Reference.TensorArrays;

namespace TokenformerGen.Tests.Devices;

/// <summary>
/// bf16 mixed precision held to independent references: the forward against float64, a training run against the same
/// run in fp32, growth's function check, and exact resumption. Every tolerance stated here is in the report of issue 8.
/// </summary>
public sealed class MixedPrecisionTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>Logits of a bf16 forward against float64: max |error| / max |logit|.</summary>
    public const double ForwardTolerance = 2e-2;

    /// <summary>bf16 training against fp32 from the same weights and batches: largest |bf16 / fp32 − 1| of the 10-step mean loss.</summary>
    public const double TrainingMargin = 0.05;

    private static readonly ComputeTarget Bf16 = new(CPU, Precision.Bf16);
    private static readonly Tensor Tokens = tensor(new long[] { 3, 17, 200, 5, 9, 64, 1, 250, 42, 7 }).view(1, 10);
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-bf16-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TheForwardMatchesTheFloat64ReferenceWithinBf16Rounding()
    {
        var model = GeneratedFamilyTests.TrainedLikeSmall();
        var expected = SampleReference.Logits(model, Tokens);   // from the float32 master weights
        var fp32Error = RelativeError(ToMatrix(model.call(Tokens)[0]), expected);
        model.Place(Bf16);
        var logits = model.call(Tokens);
        Assert.Equal(ScalarType.Float32, logits.dtype);
        var bf16Error = RelativeError(ToMatrix(logits[0]), expected);
        output.WriteLine($"relative error of logits vs float64: fp32 {fp32Error:E2}, bf16 {bf16Error:E2} (bfloat16 keeps 8 bits: 2⁻⁸ = {1.0 / 256:E2})");
        Assert.InRange(bf16Error, 1e-4, ForwardTolerance);   // it does compute in bfloat16, and no worse than stated
    }

    [Fact]
    public void PattentionGradientsReachTheMasterWeightsInFloat32AndMatchFloat64()
    {
        // One Pattention in bfloat16 against the same one in float64: outputs and every gradient within bf16 rounding.
        var x = Random(6, 16, seed: 1);
        var keys = Random(24, 16, seed: 2, scale: 0.5);
        var values = Random(24, 8, seed: 3, scale: 0.5);
        (Tensor Output, Tensor Input, Pattention Module) Run(ScalarType parameterType, ScalarType? computeType)
        {
            var module = new Pattention(16, 24, 8);
            module.to(parameterType);
            module.ComputeType = computeType;
            using (no_grad())
            {
                module.Keys.copy_(FromMatrix(keys, parameterType));
                module.Values.copy_(FromMatrix(values, parameterType));
            }
            var input = FromMatrix(x, parameterType).requires_grad_();
            var y = module.call(input);
            (y * FromMatrix(Random(6, 8, seed: 4), y.dtype)).sum().backward();
            return (y, input, module);
        }
        var reference = Run(ScalarType.Float64, null);
        var mixed = Run(ScalarType.Float32, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, mixed.Output.dtype);
        Assert.Equal(ScalarType.Float32, mixed.Module.Keys.grad!.dtype);
        Assert.Equal(ScalarType.Float32, mixed.Input.grad!.dtype);
        foreach (var (name, a, b) in new[] { ("output", mixed.Output, reference.Output), ("input grad", mixed.Input.grad!, reference.Input.grad!),
                                             ("key grad", mixed.Module.Keys.grad!, reference.Module.Keys.grad!), ("value grad", mixed.Module.Values.grad!, reference.Module.Values.grad!) })
        {
            var error = RelativeError(ToMatrix(a), ToMatrix(b));
            output.WriteLine($"{name}: relative error vs float64 {error:E2}");
            Assert.InRange(error, 0, ForwardTolerance);
        }
    }

    // A run of the Sample model on a pattern with 10% random tokens: the loss falls from ln 256 towards the noise's
    // entropy instead of reaching zero, where relative gaps would mean nothing. At lr 3e-3: at 1e-2 this 16-wide model's
    // training is chaotic, and two fp32 runs whose initial weights differ only by a rounding to bfloat16 already end 3–5%
    // apart (measured while writing this test), so no precision could be held to a tight margin there.
    private static List<double> TrainLosses(Precision precision, int steps, out double validation)
    {
        var model = new SampleSmall();
        model.InitializeFromScratch(7);
        model.Place(new ComputeTarget(CPU, precision));
        var options = new TrainerOptions { Steps = steps, Batch = 8, Context = 16, LearningRate = 3e-3, WarmupShare = 0.05, EvalBatches = 8 };
        using var trainer = new Trainer(model, new PatternBatches(40, noise: 0.1), options);
        var losses = new List<double>();
        while (!trainer.Done) losses.Add(trainer.Step().Loss);
        validation = trainer.Evaluate();
        return losses;
    }

    [Fact]
    public void ABf16TrainingRunTracksTheFp32LossCurveAndRerunsIdentically()
    {
        const int steps = 200;
        var fp32 = TrainLosses(Precision.Fp32, steps, out var fp32Validation);
        var bf16 = TrainLosses(Precision.Bf16, steps, out var bf16Validation);
        static double Mean10(List<double> losses, int end) => losses.Skip(Math.Max(0, end - 10)).Take(Math.Min(10, end)).Average();
        var gaps = Enumerable.Range(1, steps).Select(end => Math.Abs(Mean10(bf16, end) / Mean10(fp32, end) - 1)).ToList();
        output.WriteLine($"loss {fp32[0]:F4} → {Mean10(fp32, steps):F4} (fp32), {bf16[0]:F4} → {Mean10(bf16, steps):F4} (bf16); largest gap of the 10-step means {gaps.Max():P2} at step {gaps.IndexOf(gaps.Max()) + 1}, at the end {gaps[^1]:P2}; validation {fp32Validation:F4} vs {bf16Validation:F4}");
        Assert.True(Mean10(fp32, steps) < fp32[0] / 2, "the fp32 run did not learn");
        Assert.InRange(gaps.Max(), 0, TrainingMargin);
        Assert.InRange(Math.Abs(bf16Validation / fp32Validation - 1), 0, TrainingMargin);

        Assert.Equal(TrainLosses(Precision.Bf16, 40, out var first), TrainLosses(Precision.Bf16, 40, out var second));   // deterministic from run to run
        Assert.Equal(first, second);
    }

    [Fact]
    public void A50kVocabularyModelTrainsInBf16AsInFp32()
    {
        // The released shapes' 50,304-row tied embedding and head (issue 17), trained from the same weights on the same
        // batches of ids spread over the whole vocabulary.
        const int steps = 30;
        List<double> Train(Precision precision)
        {
            var model = new SampleLargeVocabularyOnly();
            model.InitializeFromScratch(11);
            model.Place(new ComputeTarget(CPU, precision));
            var options = new TrainerOptions { Steps = steps, Batch = 4, Context = 16, LearningRate = 3e-3, WarmupShare = 0.1 };
            using var trainer = new Trainer(model, new PatternBatches(50277, period: 29, noise: 0.05), options);
            var losses = new List<double>();
            while (!trainer.Done) losses.Add(trainer.Step().Loss);
            return losses;
        }
        var fp32 = Train(Precision.Fp32);
        var bf16 = Train(Precision.Bf16);
        var gaps = fp32.Zip(bf16, (a, b) => Math.Abs(b / a - 1)).ToList();
        output.WriteLine($"50k vocabulary: loss {fp32[0]:F4} → {fp32[^1]:F4} (fp32), {bf16[0]:F4} → {bf16[^1]:F4} (bf16); largest per-step gap {gaps.Max():P3}");
        Assert.InRange(fp32[0], Math.Log(50304) - 0.1, Math.Log(50304) + 0.1);   // starts at chance over the padded vocabulary
        Assert.True(fp32[^1] < fp32[0] - 0.5, "the fp32 run did not learn");
        Assert.InRange(gaps.Max(), 0, 0.01);
    }

    [Fact]
    public void PreparedForInferenceABf16ModelComputesTheSameLogitsAndTokensAndRefusesTraining()
    {
        var model = GeneratedFamilyTests.TrainedLikeSmall();
        model.Place(Bf16);
        model.eval();
        Tensor before;
        using (no_grad()) before = model.call(Tokens);
        var greedy = new SamplingOptions(Temperature: 0);
        var tokensBefore = TextSampler.Generate(model, [3, 17, 200], 24, greedy);

        model.PrepareForInference();
        Assert.All(model.Pattentions(), p => Assert.Equal(ScalarType.BFloat16, p.Module.Keys.dtype));   // converted once
        Assert.Equal(ScalarType.Float32, model.WordEmbeddings.Weight.dtype);                             // the lookup's table stays float32
        Tensor after;
        using (no_grad()) after = model.call(Tokens);
        Assert.Equal(ScalarType.Float32, after.dtype);
        Assert.Equal(before.data<float>().ToArray(), after.data<float>().ToArray());   // the casts it made on every call, made once
        Assert.Equal(tokensBefore, TextSampler.Generate(model, [3, 17, 200], 24, greedy));

        var error = Assert.Throws<InvalidOperationException>(() => new Trainer(model, new PatternBatches(40), new TrainerOptions { Steps = 1, Batch = 1, Context = 8 }));
        Assert.Contains("Sample/Small was prepared for inference, so it cannot be trained", error.Message);
        Assert.Throws<InvalidOperationException>(() => TokenformerGen.Checkpoints.Checkpoint.Save(Path.Combine(_directory, "x.safetensors"), model,
                                                                                                  new TokenformerGen.Checkpoints.CheckpointMetadata("Sample", "Small", "", 0)));
        Assert.Throws<InvalidOperationException>(() => model.Place(Bf16));
        Assert.False(File.Exists(Path.Combine(_directory, "x.safetensors")));
    }

    [Fact]
    public void AKilledBf16RunResumesExactly()
    {
        var options = new TrainerOptions { Steps = 12, Batch = 2, Context = 16, LearningRate = 1e-2, WarmupShare = 0.2 };
        var data = new PatternBatches(40);
        SampleSmall Fresh()
        {
            var model = new SampleSmall();
            model.InitializeFromScratch(5);
            model.Place(Bf16);
            return model;
        }
        var uninterrupted = new List<double>();
        using (var trainer = new Trainer(Fresh(), data, options))
            while (!trainer.Done) uninterrupted.Add(trainer.Step().Loss);

        using (var trainer = new Trainer(Fresh(), data, options))
        {
            for (var i = 0; i < 8; i++)   // checkpoint at step 5, "die" after step 8
            {
                trainer.Step();
                if (trainer.Progress.Step == 5) TrainingCheckpoints.Save(_directory, trainer);
            }
        }
        var resumedModel = new SampleSmall().Place(Bf16);
        var (optimizer, progress) = TrainingCheckpoints.Resume(TrainingCheckpoints.Latest(_directory)!, resumedModel, options);
        var resumed = new List<double>();
        using (var trainer = new Trainer(resumedModel, data, options, optimizer, progress))
            while (!trainer.Done) resumed.Add(trainer.Step().Loss);
        Assert.Equal(uninterrupted.Skip(5), resumed);   // bit for bit: checkpoints hold the float32 master weights and moments
        var saved = TokenformerGen.Checkpoints.Checkpoint.ReadMetadata(TrainingCheckpoints.Latest(_directory)!);
        Assert.Equal(TokenformerGen.Checkpoints.SafeTensorsDType.DisplayName(ScalarType.Float32), saved.DType);   // stored: float32 masters
        Assert.Equal("bf16", saved.Precision);                                                                      // trained in: bf16
    }

    [Fact]
    public void ZeroKeysGrowthMeasuredInBf16StaysWithinTheStatedTolerance()
    {
        var data = new PatternBatches(40);
        var small = new SampleSmall();
        small.InitializeFromScratch(3);
        small.Place(Bf16);
        using (var trainer = new Trainer(small, data, new TrainerOptions { Steps = 150, Batch = 4, Context = 16, LearningRate = 1e-2 }))
            while (!trainer.Done) trainer.Step();
        double Measure(TokenformerModel m) => Evaluation.Loss(m, data, 4, 16, 8);

        var medium = new SampleMedium().Place(Bf16);
        var report = StageGrowth.GrowInto(SampleSmallToMedium.Map, small, medium, measure: Measure);   // the check uses the bf16 tolerance
        Assert.Equal(StageGrowth.Bf16Tolerance, report.Tolerance);
        output.WriteLine($"zero_keys growth measured in bf16: loss {report.LossBefore:F6} → {report.LossAfter:F6}, |Δ| {Math.Abs(report.Delta!.Value):E2} (tolerance {StageGrowth.Bf16Tolerance:G})");
        Assert.InRange(Math.Abs(report.Delta!.Value), 0, StageGrowth.Bf16Tolerance);

        // The same weights measured in fp32 keep the fp32 tolerance: bf16 only rounds differently.
        small.Place(ComputeTarget.Cpu);
        medium.Place(ComputeTarget.Cpu);
        var exact = StageGrowth.Check(SampleSmallToMedium.Map, GrowthPolicy.ZeroKeys, Measure(small), Measure(medium));
        output.WriteLine($"the same growth measured in fp32: |Δ| {Math.Abs(exact.Delta!.Value):E2}");
        Assert.Equal(StageGrowth.DefaultTolerance, exact.Tolerance);
    }
}
