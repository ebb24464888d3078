using TokenformerGen.Data;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Tests.Training;
using TokenformerGen.Training;
using Xunit.Abstractions;

namespace TokenformerGen.Tests.Scaling;

public sealed class ScheduleRunnerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-schedule-").FullName;
    private static readonly ScheduleOptions Options = new() { Context = 16, EvaluationsPerStage = 4, EvalBatches = 4 };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class Recorder : IScheduleObserver
    {
        public List<GrowthReport> Reports { get; } = [];
        public List<(RunMode Mode, string Stage, long Step, double LearningRate)> Steps { get; } = [];
        public List<(RunMode Mode, string Stage, long StartStep)> Started { get; } = [];
        public List<(RunMode Mode, string Stage)> Found { get; } = [];
        public void Grown(GrowthMap edge, GrowthReport report) => Reports.Add(report);
        public void StepDone(RunMode mode, StageInfo stage, StepMetrics metrics) => Steps.Add((mode, stage.Name, metrics.Step, metrics.LearningRate));
        public void StageStarted(RunMode mode, StageInfo stage, long steps, long startStep) => Started.Add((mode, stage.Name, startStep));
        public void StageFound(RunMode mode, StageResult result) => Found.Add((mode, result.Stage));
    }

    // Records which data steps the trainers asked for.
    private sealed class Recording(IBatchSource inner) : IBatchSource
    {
        public List<long> Steps { get; } = [];
        public double? TokensPerByte => inner.TokensPerByte;
        public TokenBatch TrainBatch(long step, int micro, int batch, int context)
        {
            Steps.Add(step);
            return inner.TrainBatch(step, micro, batch, context);
        }
        public IEnumerable<TokenBatch> HeldOutBatches(DataSplit split, int batch, int context, int maxBatches) => inner.HeldOutBatches(split, batch, context, maxBatches);
    }

    // Cancels the run once it has taken `step` steps of `stage` in `mode`.
    private sealed class StopAt(RunMode mode, string stage, long step) : IScheduleObserver
    {
        private readonly CancellationTokenSource _stop = new();
        public CancellationToken Token => _stop.Token;
        public void StepDone(RunMode m, StageInfo s, StepMetrics metrics)
        {
            if (m == mode && s.Name == stage && metrics.Step == step) _stop.Cancel();
        }
    }

    [Fact]
    public void TheBaselineTrainsTheLargestStageForAtLeastTheProgressiveFlopsOnOneStreamOfData()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new Recording(new PatternBatches(256, period: 23, length: 6000));
        var recorder = new Recorder();
        var runner = new ScheduleRunner(family, data, Options, recorder);

        // Training FLOPs per token, written out (d 16, 2 layers, vocab 256, context 16; × 3 for forward + backward):
        // Small  (8/8/32 tokens):   3 · (2 · (3·2·8·32 + 2·8·32 + 2·32·32 + 4·16·16) + 2·16·256) = 55,296
        // Medium (12/16/48 tokens): 3 · (2 · (3·2·12·32 + 2·16·32 + 2·48·32 + 4·16·16) + 2·16·256) = 69,120
        // Budget 3072 tokens / (batch 4 · context 16) = 48 steps per stage; the progressive run costs 48 · 64 · (55,296 + 69,120)
        // = 382,205,952 FLOPs, which Medium alone spends in 86.4 steps of 64 · 69,120: the baseline gets 87.
        Assert.Equal([48L, 48L], runner.Progressive.Select(p => p.Options.Steps));
        Assert.Equal(382_205_952m, runner.Progressive.Sum(p => p.Flops));
        var baseline = Assert.Single(runner.Scratch);
        Assert.Equal(("Medium", 87L, 0L), (baseline.Stage.Name, baseline.Options.Steps, baseline.DataStart));
        Assert.Equal([0L, 48L], runner.Progressive.Select(p => p.DataStart));

        var progressive = runner.RunProgressive();
        var progressiveSteps = data.Steps.ToList();
        data.Steps.Clear();
        var scratch = runner.RunScratch(progressive);

        // The progressive run reads batches 0..95 once, Medium on from where Small stopped; the baseline reads 0..86.
        Assert.Equal(Enumerable.Range(0, 96).Select(i => (long)i), progressiveSteps);
        Assert.Equal(Enumerable.Range(0, 87).Select(i => (long)i), data.Steps);
        Assert.Equal(382_205_952, progressive.TotalFlops);
        Assert.Equal(87 * 64 * 69_120, scratch.TotalFlops);
        Assert.Equal(["Medium"], scratch.Stages.Select(s => s.Stage));
        // 4 evaluations per progressive stage, so 8 for the baseline: every 87 / 8 = 10 steps, plus step 0 and the end.
        Assert.Equal([0L, 10, 20, 30, 40, 50, 60, 70, 80, 87], scratch.Curve.Select(p => p.Step));

        var growth = Assert.Single(progressive.Growths);
        output.WriteLine($"growth: loss {growth.LossBefore:F6} → {growth.LossAfter:F6}");
        Assert.InRange(Math.Abs(growth.Delta!.Value), 0, 1e-4);
        Assert.Equal(progressive.Stages[1].LossBeforeGrowth, growth.LossBefore);
        Assert.Equal(recorder.Reports, progressive.Growths);

        // Progressive FLOPs accumulate across stages; the grown stage's curve starts where its parent ended.
        Assert.Equal(progressive.Stages[0].Flops, progressive.Curve.First(p => p.Stage == "Medium").CumulativeFlops);
        Assert.Equal(progressive.TotalFlops, progressive.Curve[^1].CumulativeFlops);
        foreach (var s in progressive.Stages.Concat(scratch.Stages))
            output.WriteLine($"{s.Stage}: {s.Steps} steps, val loss {s.ValidationLoss:F4}");

        var comparison = GrowthComparison.Of(progressive, scratch, "Medium", DataSplit.Validation);
        Assert.Equal((progressive.Stages[^1].ValidationLoss, scratch.Stages[0].ValidationLoss), (comparison.ProgressiveLoss, comparison.BaselineLoss));
        Assert.True(comparison.BaselineFlops >= comparison.ProgressiveFlops);

        // Every point measures the test split too, on its own batches; results read on it use those losses.
        Assert.All(progressive.Curve.Concat(scratch.Curve), p => Assert.NotNull(p.TestLoss));
        Assert.Contains(progressive.Curve, p => p.TestLoss != p.ValidationLoss);
        Assert.Equal(progressive.Curve[^1].TestLoss, progressive.Stages[^1].TestLoss);
        var onTest = GrowthComparison.Of(progressive, scratch, "Medium", DataSplit.Test);
        Assert.Equal((progressive.Stages[^1].TestLoss!.Value, scratch.Stages[0].TestLoss!.Value), (onTest.ProgressiveLoss, onTest.BaselineLoss));
        Assert.Equal(DataSplit.Test, onTest.Split);
    }

    [Fact]
    public void ScratchAllTrainsEveryStageForAtLeastTheProgressiveFlopsUpToIt()
    {
        // 48 steps of 64 tokens a stage; FLOPs per token from ModelSize (checked against hand counts in its own tests).
        var family = ModelRegistry.Family("SampleThree");
        var runner = new ScheduleRunner(family, new PatternBatches(256), Options with { Scratch = ScratchBaseline.All });
        decimal PerStep(string stage) => 64m * family.Stage(stage).Info.TrainingFlopsPerTokenAt(16);
        var (small, medium, large) = (48 * PerStep("Small"), 48 * PerStep("Medium"), 48 * PerStep("Large"));
        long Steps(decimal budget, string stage) => (long)decimal.Ceiling(budget / PerStep(stage));
        // Under the default one curve across stages the progressive root never anneals, so the scratch root trains on its own.
        Assert.Equal([("Small", false, 48L), ("Medium", false, Steps(small + medium, "Medium")), ("Large", false, Steps(small + medium + large, "Large"))],
                     runner.Scratch.Select(p => (p.Stage.Name, p.SharedWithProgressive, p.Options.Steps)));
        Assert.All(runner.Scratch.Zip(new[] { small, small + medium, small + medium + large }), pair => Assert.InRange(pair.First.Flops, pair.Second, pair.Second + pair.First.FlopsPerStep));
        // As many evaluations per FLOP as the progressive run: 4 per progressive stage covered.
        Assert.Equal([48 / 4, (int)(Steps(small + medium, "Medium") / 8), (int)(Steps(small + medium + large, "Large") / 12)], runner.Scratch.Select(p => p.Options.EvalInterval));
    }

    [Fact]
    public void TheFamilyComparisonSumsWhatEachStageFromScratchNeeded()
    {
        // Hand-made curves of a two-stage family, each point's validation then test loss. Progressive: Small ends at 2.5
        // after 20 FLOPs, Medium at 1.9 after 100 (it passed 2.0 at 30). Scratch: Small is the progressive root; Medium from
        // scratch ends at 2.0 after 101 FLOPs and never reaches 1.9.
        var progressive = new ScheduleResult(RunMode.Progressive,
            [new StageResult("Small", 1, 1, 1, 20, 2.5, 0, null, null, 2.6), new StageResult("Medium", 2, 1, 1, 80, 1.9, 0, 2.5, 2.5, 2.0)],
            [new("Small", 0, 0, 5.5, 5.5), new("Small", 1, 20, 2.5, 2.6), new("Medium", 0, 20, 2.5, 2.6), new("Medium", 1, 30, 2.0, 2.1), new("Medium", 2, 100, 1.9, 2.0)], []);
        var scratch = new ScheduleResult(RunMode.Scratch,
            [new StageResult("Small", 1, 1, 1, 20, 2.5, 0, null, null, 2.6), new StageResult("Medium", 2, 1, 1, 101, 2.0, 0, null, null, 2.05)],
            [new("Small", 0, 0, 5.5, 5.5), new("Small", 1, 20, 2.5, 2.6), new("Medium", 0, 0, 5.5, 5.5), new("Medium", 1, 50, 2.2, 2.3), new("Medium", 2, 101, 2.0, 2.05)], []);

        var validation = FamilyComparison.Of(progressive, scratch, ["Small", "Medium"], DataSplit.Validation)!;
        Assert.Equal([20.0, 100.0], validation.Stages.Select(s => s.ProgressiveFlops));
        Assert.Equal(20.0, validation.Stages[0].ScratchReaching!.CumulativeFlops);   // the root reaches its own loss at its end
        Assert.Null(validation.Stages[1].ScratchReaching);                             // scratch Medium never gets to 1.9
        Assert.Equal(100.0 / (20 + 101), validation.Ratio, 12);                        // so 101 is a lower bound of what it needed ...
        Assert.True(validation.RatioIsBound);                                           // ... and the ratio an upper bound
        Assert.Equal(30.0, validation.Stages[1].ProgressiveReaching!.CumulativeFlops);
        Assert.Equal(30.0 / (20 + 101), validation.ReverseRatio!.Value, 12);

        // On the test split the progressive Medium ends at 2.0 and scratch Medium at 2.05, so scratch again never reaches the
        // progressive loss; the progressive run first gets to 2.05 at 100 FLOPs (it is at 2.1 at 30).
        var test = FamilyComparison.Of(progressive, scratch, ["Small", "Medium"], DataSplit.Test)!;
        Assert.Equal(100.0, test.Stages[1].ProgressiveReaching!.CumulativeFlops);
        Assert.Equal((2.0, 2.05), (test.Stages[1].ProgressiveLoss, test.Stages[1].ScratchLoss));
        Assert.Null(FamilyComparison.Of(progressive, new ScheduleResult(RunMode.Scratch, [scratch.Stages[1]], scratch.Curve, []), ["Small", "Medium"], DataSplit.Test));
    }

    [Fact]
    public void TheFrontierTrainsEveryStageFromScratchForTheWholeProgressiveBudget()
    {
        var family = ModelRegistry.Family("SampleThree");
        var runner = new ScheduleRunner(family, new PatternBatches(256), Options with { Scratch = ScratchBaseline.Frontier });
        decimal PerStep(string stage) => 64m * family.Stage(stage).Info.TrainingFlopsPerTokenAt(16);
        var total = 48 * (PerStep("Small") + PerStep("Medium") + PerStep("Large"));
        long Steps(string stage) => (long)decimal.Ceiling(total / PerStep(stage));
        Assert.Equal([("Small", false, Steps("Small")), ("Medium", false, Steps("Medium")), ("Large", false, Steps("Large"))],
                     runner.Scratch.Select(p => (p.Stage.Name, p.SharedWithProgressive, p.Options.Steps)));
        Assert.All(runner.Scratch, p => Assert.InRange(p.Flops, total, total + p.FlopsPerStep));
        Assert.All(runner.Scratch, p => Assert.Null(p.Options.Schedule));   // each its own warmup and cosine
        Assert.Equal(runner.LargestStage.Name, runner.Scratch[^1].Stage.Name);
    }

    [Fact]
    public void EveryStageEndsWithOnePassOverTheWholeTestSplit()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new PatternBatches(256, period: 23, length: 20000);
        var progressive = new ScheduleRunner(family, data, Options with { Scratch = ScratchBaseline.None }).RunProgressive();
        // The pass covers every test window, so it differs from the curve's last point, which reads 4 batches.
        Assert.All(progressive.Stages, s => Assert.NotNull(s.FullTestLoss));
        var windows = data.HeldOutBatches(DataSplit.Test, 4, 16, int.MaxValue).Sum(b => { using var owned = b; return b.Targets.shape[0]; });
        Assert.True(windows > 4 * 4, $"the test split has {windows} windows: too few to tell the whole split from the curve's batches");
        Assert.NotEqual(progressive.Stages[^1].TestLoss, progressive.Stages[^1].FullTestLoss);
    }

    [Fact]
    public void UnderOneCurveAcrossStagesTheScratchRootTrainsOnItsOwn()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new PatternBatches(256, period: 23, length: 6000);
        var recorder = new Recorder();
        var runner = new ScheduleRunner(family, data, Options with { Scratch = ScratchBaseline.All }, recorder);
        var progressive = runner.RunProgressive();
        var scratch = runner.RunScratch(progressive);
        Assert.Contains(recorder.Started, s => s.Mode == RunMode.Scratch && s.Stage == "Small");
        Assert.Equal(progressive.Stages[0].Steps, scratch.Stages[0].Steps);
        Assert.NotEqual(progressive.Stages[0].ValidationLoss, scratch.Stages[0].ValidationLoss);   // annealed to the floor, not left at the peak
    }

    [Fact]
    public void ScratchAllTakesARootThatTrainedAsAScratchRunFromTheProgressiveRun()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new PatternBatches(256, period: 23, length: 6000);
        var recorder = new Recorder();
        var runner = new ScheduleRunner(family, data, Options with { Scratch = ScratchBaseline.All, LearningRates = StageLearningRates.Restart }, recorder);
        Assert.Equal([("Small", true, 48L), ("Medium", false, 87L)], runner.Scratch.Select(p => (p.Stage.Name, p.SharedWithProgressive, p.Options.Steps)));

        var progressive = runner.RunProgressive();
        var scratch = runner.RunScratch(progressive);

        Assert.Equal(progressive.Stages[0], scratch.Stages[0]);
        Assert.Equal(progressive.Curve.Where(p => p.Stage == "Small"), scratch.Curve.Where(p => p.Stage == "Small"));
        Assert.Equal([(RunMode.Scratch, "Small")], recorder.Found);
        Assert.DoesNotContain(recorder.Started, s => s.Mode == RunMode.Scratch && s.Stage == "Small");   // never trained twice
        Assert.Equal(0, scratch.Curve.First(p => p.Stage == "Medium").CumulativeFlops);
    }

    [Theory]
    [InlineData(StageLearningRates.Restart)]
    [InlineData(StageLearningRates.Global)]
    [InlineData(StageLearningRates.Rewarm)]
    public void TheLearningRateAcrossStagesFollowsTheChosenCurve(StageLearningRates rates)
    {
        var recorder = new Recorder();
        var runner = new ScheduleRunner(ModelRegistry.Family("Sample"), new PatternBatches(256, period: 23, length: 6000), Options with { LearningRates = rates }, recorder);
        runner.RunProgressive();

        // Written out: peak 1e-2, floor 1e-3, warmup share 0.1. Restart: 5 warmup steps and a cosine over 43 per stage.
        // Global: one curve over 96 steps (10 warmup, cosine over 86). Rewarm: the global curve, Medium's first 5 steps ramped.
        static double Cosine(long step, long warmup, long total) => step < warmup
            ? 1e-2 * (step + 1) / warmup
            : 1e-3 + 9e-3 * 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / (total - warmup)));
        var progressive = recorder.Steps.Where(s => s.Mode == RunMode.Progressive).ToList();
        Assert.Equal(96, progressive.Count);
        foreach (var (_, stage, step, rate) in progressive)
        {
            var k = step - 1;   // 0-based step within the stage
            var expected = rates switch
            {
                StageLearningRates.Restart => Cosine(k, 5, 48),
                _ when stage == "Small" => Cosine(k, 10, 96),
                StageLearningRates.Global => Cosine(48 + k, 10, 96),
                _ => Cosine(48 + k, 10, 96) * Math.Min(1.0, (k + 1) / 5.0),
            };
            Assert.Equal(expected, rate, 12);
        }
    }

    [Fact]
    public void AKilledRunResumesFromItsFolderWithExactlyTheLossesOfAnUninterruptedOne()
    {
        var family = ModelRegistry.Family("Sample");
        var data = new PatternBatches(256, period: 23, length: 6000);
        var options = Options with { OptimizerGrowth = OptimizerGrowthMode.Keep, LearningRates = StageLearningRates.Rewarm, CheckpointInterval = 5, Scratch = ScratchBaseline.All };
        var identity = ScheduleRunner.Identity(family, options, "pattern");

        (ScheduleResult Progressive, ScheduleResult Scratch) Run(string folder, IScheduleObserver? observer = null, CancellationToken cancellation = default)
        {
            using var claimed = RunFolder.Claim(folder, identity);
            var runner = new ScheduleRunner(family, data, options, observer, claimed);
            var progressive = runner.RunProgressive(cancellation);
            return (progressive, runner.RunScratch(progressive, cancellation));
        }

        var inMemory = new ScheduleRunner(family, data, options);
        var memoryProgressive = inMemory.RunProgressive();
        var reference = (Progressive: memoryProgressive, Scratch: inMemory.RunScratch(memoryProgressive));
        var uninterrupted = Run(Path.Combine(_directory, "uninterrupted"));

        // Stopped mid-root, right after a growth (its checkpoints then lost, as a kill before the first one would leave it),
        // a few steps after it, and mid-baseline; each stop saves where it is, as a kill after a checkpoint would.
        var folder = Path.Combine(_directory, "stopped");
        foreach (var (mode, stage, step, lose) in new[] { (RunMode.Progressive, "Small", 23L, false), (RunMode.Progressive, "Medium", 1L, true), (RunMode.Progressive, "Medium", 7L, false), (RunMode.Scratch, "Medium", 31L, false) })
        {
            var stop = new StopAt(mode, stage, step);
            Assert.Throws<OperationCanceledException>(() => Run(folder, stop, stop.Token));
            Assert.True(File.Exists(Path.Combine(folder, mode.Name(), stage, TrainingCheckpoints.LatestFile)));
            if (lose) Directory.Delete(Path.Combine(folder, mode.Name(), stage), recursive: true);
        }
        var recorder = new Recorder();
        var resumed = Run(folder, recorder);
        Assert.Equal([(RunMode.Scratch, "Medium", 31L)], recorder.Started);   // everything else was found finished
        Assert.Equal([(RunMode.Progressive, "Small"), (RunMode.Progressive, "Medium"), (RunMode.Scratch, "Small")], recorder.Found);

        foreach (var run in new[] { uninterrupted, resumed })
        {
            foreach (var (expected, actual) in new[] { (reference.Progressive, run.Progressive), (reference.Scratch, run.Scratch) })
            {
                Assert.Equal(expected.Curve, actual.Curve);
                Assert.Equal(expected.Growths, actual.Growths);
                Assert.Equal(expected.Stages.Select(s => s with { WallSeconds = 0 }), actual.Stages.Select(s => s with { WallSeconds = 0 }));
            }
        }
        // A finished folder is found whole: nothing is trained again.
        var again = new Recorder();
        var found = Run(folder, again);
        Assert.Empty(again.Started);
        Assert.Equal(resumed.Scratch.Curve, found.Scratch.Curve);
    }

    [Fact]
    public void FromScratchEveryStageHasTheTauOfItsOwnCountsAndTheFolderSaysSo()
    {
        // SampleThree grows under tau: fixed, so Medium and Large keep Small's √8/√8/√32; from scratch each has its own.
        var family = ModelRegistry.Family("SampleThree");
        var runner = new ScheduleRunner(family, new PatternBatches(256), Options with { Scratch = ScratchBaseline.Frontier });
        Assert.Equal([new(Math.Sqrt(8), Math.Sqrt(8), Math.Sqrt(32)), new(Math.Sqrt(12), Math.Sqrt(16), Math.Sqrt(48)), new(Math.Sqrt(16), Math.Sqrt(24), Math.Sqrt(64))],
                     runner.Scratch.Select(p => p.Stage.Taus));
        Assert.All(runner.Progressive, p => Assert.Equal(new(Math.Sqrt(8), Math.Sqrt(8), Math.Sqrt(32)), p.Stage.Taus));
        Assert.Equal("own", ScheduleRunner.Identity(family, Options with { Scratch = ScratchBaseline.Largest }, "pattern")["scratch_tau"]);
        Assert.False(ScheduleRunner.Identity(family, Options with { Scratch = ScratchBaseline.None }, "pattern").ContainsKey("scratch_tau"));
        // Nothing to say where no stage from scratch borrows a τ: a family under sqrt_n.
        Assert.False(ScheduleRunner.Identity(ModelRegistry.Family("SampleSqrtN"), Options with { Scratch = ScratchBaseline.Frontier }, "pattern").ContainsKey("scratch_tau"));
    }

    [Fact]
    public void ARootWithABorrowedTauTrainsAgainFromScratchInsteadOfBeingShared()
    {
        // SampleTauTokens is Sample with its root at Medium's τ (tau_tokens): the progressive root is not the model Small
        // from scratch is, so a schedule that would share it with Sample trains it again, at √8/√8/√32.
        var options = Options with { Scratch = ScratchBaseline.All, LearningRates = StageLearningRates.Restart };
        var runner = new ScheduleRunner(ModelRegistry.Family("SampleTauTokens"), new PatternBatches(256), options);
        Assert.Equal([("Small", false, 48L), ("Medium", false, 87L)], runner.Scratch.Select(p => (p.Stage.Name, p.SharedWithProgressive, p.Options.Steps)));
        Assert.Equal(new(Math.Sqrt(12), Math.Sqrt(16), Math.Sqrt(48)), runner.Progressive[0].Stage.Taus);
        Assert.Equal(new(Math.Sqrt(8), Math.Sqrt(8), Math.Sqrt(32)), runner.Scratch[0].Stage.Taus);
        Assert.True(new ScheduleRunner(ModelRegistry.Family("Sample"), new PatternBatches(256), options).Scratch[0].SharedWithProgressive);
    }

    [Fact]
    public void ARunFolderRefusesAnotherRunStrangeFilesAndASecondClaim()
    {
        var family = ModelRegistry.Family("Sample");
        var folder = Path.Combine(_directory, "run");
        var identity = ScheduleRunner.Identity(family, Options, "pattern");
        using (var first = RunFolder.Claim(folder, identity))
        {
            Assert.False(first.Resumed);
            var busy = Assert.Throws<RunFolderException>(() => RunFolder.Claim(folder, identity));
            Assert.Contains("in use by another running process", busy.Message);
        }
        using (var again = RunFolder.Claim(folder, identity)) Assert.True(again.Resumed);

        var other = ScheduleRunner.Identity(family, Options with { LearningRates = StageLearningRates.Restart, Seed = 7 }, "other data");
        var refused = Assert.Throws<RunFolderException>(() => RunFolder.Claim(folder, other));
        Assert.Equal(["data", "lr_schedule", "seed"], refused.Differences.Select(d => d.Key));
        Assert.Contains("lr_schedule is 'global' there, 'restart' here", refused.Message);

        var strange = Directory.CreateDirectory(Path.Combine(_directory, "strange")).FullName;
        File.WriteAllText(Path.Combine(strange, "notes.txt"), "mine");
        var e = Assert.Throws<RunFolderException>(() => RunFolder.Claim(strange, identity));
        Assert.Contains("holds no run.json", e.Message);
        Assert.False(File.Exists(Path.Combine(strange, RunFolder.IdentityFile)));
    }

    [Fact]
    public void TheComparisonReadsBothWays()
    {
        // Hand-made curves: the progressive run passes 2.0 while in Medium at 30 FLOPs; the baseline ends at 2.0 after 100.
        var progressive = new ScheduleResult(RunMode.Progressive,
            [new StageResult("Small", 1, 1, 1, 20, 2.5, 0, null, null), new StageResult("Medium", 2, 1, 1, 80, 1.9, 0, 2.5, 2.5)],
            [new("Small", 0, 0, 5.5), new("Small", 1, 20, 2.5), new("Medium", 0, 20, 2.5), new("Medium", 1, 30, 2.0), new("Medium", 2, 100, 1.9)], []);
        var scratch = new ScheduleResult(RunMode.Scratch, [new StageResult("Medium", 2, 1, 1, 101, 2.0, 0, null, null)],
            [new("Medium", 0, 0, 5.5), new("Medium", 1, 50, 2.2), new("Medium", 2, 101, 2.0)], []);
        var c = GrowthComparison.Of(progressive, scratch, "Medium", DataSplit.Validation);
        Assert.Equal((100.0, 1.9, 101.0, 2.0), (c.ProgressiveFlops, c.ProgressiveLoss, c.BaselineFlops, c.BaselineLoss));
        Assert.Equal(("Medium", 30.0, 101.0), (c.AtBaselineLoss.Progressive!.Stage, c.AtBaselineLoss.Progressive.CumulativeFlops, c.AtBaselineLoss.Baseline!.CumulativeFlops));
        Assert.Equal(30.0 / 101, c.AtBaselineLoss.Ratio!.Value, 12);
        Assert.Equal(100.0, c.AtProgressiveLoss.Progressive!.CumulativeFlops);
        Assert.Null(c.AtProgressiveLoss.Baseline);   // the baseline never got to 1.9
        Assert.Null(c.AtProgressiveLoss.Ratio);
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
