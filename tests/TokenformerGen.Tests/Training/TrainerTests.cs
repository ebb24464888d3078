using TokenformerGen.Architecture;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Training;

namespace TokenformerGen.Tests.Training;

public class TrainerTests
{
    private static readonly TrainerOptions Options = new() { Steps = 30, Batch = 4, Context = 16, LearningRate = 1e-2, WarmupShare = 0.1, EvalBatches = 4 };

    private static (List<StepMetrics> Steps, double ValidationLoss, double InitialValidation) Train(long seed, TrainerOptions options)
    {
        var model = new SampleSmall();
        model.InitializeFromScratch(seed);
        using var trainer = new Trainer(model, new PatternBatches(40), options);
        var initial = trainer.Evaluate();
        var steps = new List<StepMetrics>();
        while (!trainer.Done) steps.Add(trainer.Step());
        return (steps, trainer.Evaluate(), initial);
    }

    [Fact]
    public void TrainingReducesLossAndRerunsAreIdentical()
    {
        var first = Train(7, Options);
        Assert.True(first.ValidationLoss < first.InitialValidation - 0.5, $"validation loss {first.InitialValidation:F3} → {first.ValidationLoss:F3}");
        Assert.True(first.Steps[^1].Loss < first.Steps[0].Loss - 0.5);
        Assert.Equal(30 * 4 * 16, first.Steps[^1].Tokens);
        // FLOPs follow the context actually trained on (16), not the family maximum (32).
        Assert.Equal(ModelSize.TrainingFlopsPerToken(256, 2, 16, 8, 8, 32, 16) * (double)first.Steps[^1].Tokens, first.Steps[^1].Flops);

        var second = Train(7, Options);
        Assert.Equal(first.Steps.Select(s => s.Loss), second.Steps.Select(s => s.Loss));
        Assert.Equal(first.ValidationLoss, second.ValidationLoss);
    }

    [Fact]
    public void AccumulatedStepReportsTheMeanOfItsMicroBatches()
    {
        // The step's loss is the mean over its micro-batches, all seen by the weights before the update.
        var model = new SampleSmall();
        model.InitializeFromScratch(1);
        var data = new PatternBatches(40);
        double MicroLoss(int micro)
        {
            using var _ = no_grad();
            using var batch = data.TrainBatch(0, micro, 2, 16);
            var logits = model.call(batch.Inputs);
            return nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), batch.Targets.view(-1)).item<float>();
        }
        var expected = (MicroLoss(0) + MicroLoss(1)) / 2;
        using var trainer = new Trainer(model, data, Options with { Batch = 2, GradientAccumulation = 2 });
        Assert.Equal(expected, trainer.Step().Loss, 5);
    }

    [Fact]
    public void WithClippingOffTheGradientNormIsStillReportedAndNothingIsScaled()
    {
        var off = Train(2, Options with { Steps = 3, ClipNorm = 0 });
        var huge = Train(2, Options with { Steps = 3, ClipNorm = 1e12 });   // a bound never reached: no scaling either
        Assert.Equal(huge.Steps.Select(s => s.GradientNorm), off.Steps.Select(s => s.GradientNorm));
        Assert.Equal(huge.Steps.Select(s => s.Loss), off.Steps.Select(s => s.Loss));
        Assert.All(off.Steps, s => Assert.True(s.GradientNorm > 0 && double.IsFinite(s.GradientNorm)));
    }
}
