using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Scaling;
using TokenformerGen.Tests.Training;
using Xunit.Abstractions;

namespace TokenformerGen.Tests.Scaling;

public class ScheduleRunnerTests(ITestOutputHelper output)
{
    private sealed class Recorder : IScheduleObserver
    {
        public List<GrowthReport> Reports { get; } = [];
        public List<(double Before, double After)> Growths => Reports.Select(r => (r.LossBefore!.Value, r.LossAfter!.Value)).ToList();
        public void Grown(GrowthMap edge, GrowthReport report) => Reports.Add(report);
    }

    [Fact]
    public void ProgressiveAndScratchRunsOfTheSampleFamily()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new PatternBatches(256, period: 23, length: 6000);
        var options = new ScheduleOptions { Context = 16, EvaluationsPerStage = 4, EvalBatches = 4 };
        var recorder = new Recorder();

        var progressive = new ScheduleRunner(family, data, options, recorder).RunProgressive();
        var scratch = new ScheduleRunner(family, data, options).RunScratch();

        // Budget: 3072 tokens / (batch 4 · context 16) = 48 steps per stage.
        Assert.All(progressive.Stages.Concat(scratch.Stages), s => Assert.Equal(48, s.Steps));
        var (before, after) = Assert.Single(recorder.Growths);
        output.WriteLine($"growth: loss {before:F6} → {after:F6}");
        Assert.InRange(Math.Abs(after - before), 0, 1e-4);
        Assert.Equal(progressive.Stages[1].LossBeforeGrowth, before);

        // Progressive FLOPs accumulate across stages; scratch stages each start at zero.
        Assert.Equal(progressive.Stages[0].Flops + progressive.Stages[1].Flops, progressive.Curve[^1].CumulativeFlops, 1e-6);
        Assert.Equal(scratch.Stages[1].Flops, scratch.Curve[^1].CumulativeFlops, 1e-6);
        Assert.Equal(0, scratch.Curve.First(p => p.Stage == "Medium").CumulativeFlops);

        foreach (var s in progressive.Stages.Concat(scratch.Stages))
            output.WriteLine($"{s.Stage}: params {s.Parameters}, val loss {s.ValidationLoss:F4}, {s.WallSeconds:F1}s");
        // The grown stage starts where the small one ended, so it ends below the scratch Medium run.
        Assert.True(progressive.Stages[1].ValidationLoss < scratch.Stages[1].ValidationLoss);
        var target = scratch.Stages[^1].ValidationLoss;
        Assert.NotNull(progressive.FlopsToReach(target, "Medium"));
    }

    [Fact]
    public void ASoftmaxFamilyWithFixedTauAndZeroKeysRunsItsSchedule()
    {
        // Zero keys still take softmax weight, so this growth changes the function: the map says so, and the
        // runner reports the jump instead of refusing it.
        var family = ModelRegistry.Family("SampleSoftmax");
        var data = new PatternBatches(256, period: 23, length: 6000);
        var recorder = new Recorder();
        var progressive = new ScheduleRunner(family, data, new ScheduleOptions { Context = 16, EvaluationsPerStage = 2, EvalBatches = 2 }, recorder).RunProgressive();

        Assert.Equal(["Small", "Medium"], progressive.Stages.Select(s => s.Stage));
        var report = Assert.Single(recorder.Reports);
        Assert.Equal((GrowthPolicy.ZeroKeys, false), (report.Policy, report.PreservesFunction));
        output.WriteLine($"softmax zero_keys growth: loss {report.LossBefore:F6} → {report.LossAfter:F6}");
        Assert.True(Math.Abs(report.Delta!.Value) > StageGrowth.DefaultTolerance, "the softmax growth was expected to move the loss");
    }
}
