using TokenformerGen.Modules;
using TokenformerGen.Scaling;
using TokenformerGen.Scaling.Study;
using TokenformerGen.Tests.Training;

namespace TokenformerGen.Tests.Scaling;

public sealed class StudyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-study-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class Found : IScheduleObserver
    {
        public List<string> Started { get; } = [];
        public void StageStarted(RunMode mode, TokenformerGen.Families.StageInfo stage, long steps, long startStep) => Started.Add($"{mode} {stage.Name}");
    }

    [Fact]
    public void ASmokeStudyRunsFromCSharpAndResumesWithoutTrainingAgain()
    {
        var family = ModelRegistry.Family("Sample");
        var options = new ScheduleOptions { Context = 16, EvaluationsPerStage = 2, EvalBatches = 2, Scratch = ScratchBaseline.Frontier };
        var grid = new StudyGrid([0.25, 0.5], [SeedPair.Standard[0]]);
        var study = new StudyRunner(family, _ => new PatternBatches(256, period: 23, length: 6000), "pattern", options, grid);

        var results = study.Run(_directory);
        Assert.Equal(["0.25/1234/1", "0.5/1234/1"], results.Select(r => r.Setting.Key));
        Assert.All(results, r => Assert.True(File.Exists(Path.Combine(_directory, r.Setting.FolderName, RunFolder.IdentityFile))));
        var first = results[0];
        // The frontier: both stages from scratch for the whole progressive budget, each a gap at equal compute.
        Assert.Equal(["Small", "Medium"], StudyFigures.Gaps(first).Select(g => g.Stage));
        Assert.All(StudyFigures.Gaps(first), g => Assert.True(g.Flops >= first.Progressive.TotalFlops));
        Assert.Equal(StudyFigures.Gaps(first).Min(g => g.Gap), StudyFigures.FrontierGap(first));
        Assert.NotNull(StudyFigures.Forward(first, results));   // the baseline at scale 0.5 is its 2× reference

        var again = new Found();
        var resumed = study.Run(_directory, _ => again);
        Assert.Empty(again.Started);
        Assert.Equal(results.Select(r => StudyFigures.ProgressiveLoss(r)), resumed.Select(r => StudyFigures.ProgressiveLoss(r)));
        Assert.Throws<RunFolderException>(() => new StudyRunner(family, _ => new PatternBatches(256), "other data", options, grid).Run(_directory));
    }

    [Fact]
    public void ABaselineFamilyTrainsAtExactlyTheProgressiveComputeInItsOwnFolder()
    {
        var family = ModelRegistry.Family("Sample");
        var baseline = new BaselineFamily(ModelRegistry.Family("SampleTransformer"));
        var single = new BaselineFamily(ModelRegistry.Family("SampleGeluL2Norm"));   // one stage: it only trains from scratch
        var options = new ScheduleOptions { Context = 16, EvaluationsPerStage = 2, EvalBatches = 2, Scratch = ScratchBaseline.Frontier };
        var grid = new StudyGrid([0.25], [SeedPair.Standard[0]]);
        var study = new StudyRunner(family, _ => new PatternBatches(256, period: 23, length: 6000), "pattern", options, grid, [baseline, single]);

        var result = study.Run(_directory).Single();
        var total = result.Progressive.TotalFlops;
        Assert.Equal(2, result.Baselines!.Count);
        var run = result.Baselines[0];
        Assert.Equal("SampleTransformer", run.Family);
        Assert.True(File.Exists(Path.Combine(_directory, result.Setting.FolderName, baseline.FolderName, RunFolder.IdentityFile)));
        // Its own schedule, every stage scaled alike and the last making up the rest: at least the compute, less than one step more.
        var grown = run.Progressive!;
        Assert.Equal(["Small", "Stacked", "Deep"], grown.Stages.Select(s => s.Stage));
        Assert.InRange(grown.TotalFlops - total, 0, grown.Stages[^1].Flops / grown.Stages[^1].Steps - 1);
        // Each of its stages from scratch (the frontier), each at least the compute and less than one of its steps more.
        Assert.Equal(["Small", "Stacked", "Deep"], run.Scratch!.Stages.Select(s => s.Stage));
        Assert.All(run.Scratch.Stages, s => Assert.InRange(s.Flops - total, 0, s.Flops / s.Steps - 1));
        // The one-stage family: no grown run, its stage once from scratch, at least the compute and less than one step more.
        Assert.Null(result.Baselines[1].Progressive);
        var alone = Assert.Single(result.Baselines[1].Scratch!.Stages);
        Assert.InRange(alone.Flops - total, 0, alone.Flops / alone.Steps - 1);

        var gaps = StudyFigures.Gaps(result);
        Assert.Equal(["Small", "Medium", "SampleTransformer grown", "SampleTransformer Small", "SampleTransformer Stacked", "SampleTransformer Deep", "SampleGeluL2Norm Small"], gaps.Select(g => g.Stage));
        Assert.Equal([false, false, true, false, false, false, false], gaps.Select(g => g.Grown));
        Assert.Equal(StudyFigures.FinalLoss(grown.Stages[^1]) - StudyFigures.ProgressiveLoss(result), gaps[2].Gap);
        Assert.Equal(gaps.Where(g => !g.Grown).Min(g => g.Gap), StudyFigures.FrontierGap(result));

        var again = new Found();
        study.Run(_directory, _ => again);
        Assert.Empty(again.Started);
    }

    [Fact]
    public void ABaselineFamilyThatReadsOtherTokensOrCannotBeMatchedIsRefused()
    {
        var family = ModelRegistry.Family("Sample");
        var options = new ScheduleOptions { Scratch = ScratchBaseline.Frontier };
        Assert.Null(new BaselineFamily(ModelRegistry.Family("SampleTransformer")).Refusal(family, options));
        Assert.Contains("other tokens", new BaselineFamily(ModelRegistry.Family("SampleLargeVocabulary")).Refusal(family, options));
        Assert.Contains("is the family it would be compared with", new BaselineFamily(family).Refusal(family, options));
        Assert.Contains("--scratch all", new BaselineFamily(ModelRegistry.Family("SampleTransformer")).Refusal(family, options with { Scratch = ScratchBaseline.All }));
        // A family of one stage only trains from scratch, so without a from-scratch side it would train nothing.
        Assert.Null(new BaselineFamily(ModelRegistry.Family("SampleGeluL2Norm")).Refusal(family, options));
        Assert.Contains("--scratch none", new BaselineFamily(ModelRegistry.Family("SampleGeluL2Norm")).Refusal(family, options with { Scratch = ScratchBaseline.None }));
        Assert.Null(new BaselineFamily(ModelRegistry.Family("SampleTransformer")).Refusal(family, options with { Scratch = ScratchBaseline.None }));
        Assert.Throws<ArgumentException>(() => new BaselineFamily(family).Run(family, new PatternBatches(256), "pattern", options, 1e6, _directory));
    }

    [Fact]
    public void ASweptLearningRateReplacesEveryStagesPeakAndIsPartOfTheFolderIdentity()
    {
        var family = ModelRegistry.Family("Sample");
        var options = new ScheduleOptions { Scratch = ScratchBaseline.Frontier };
        var swept = options with { PeakLearningRate = 3e-3 };
        var runner = new ScheduleRunner(family, new PatternBatches(256), swept);
        Assert.All(runner.Progressive.Concat(runner.Scratch), p => Assert.Equal(3e-3, p.Options.LearningRate));
        Assert.All(runner.Progressive, p => Assert.Equal(3e-3, p.Options.EffectiveSchedule.Peak));
        Assert.All(new ScheduleRunner(family, new PatternBatches(256), options).Scratch, p => Assert.Equal(1e-2, p.Options.LearningRate));   // the spec's
        Assert.Equal("0.003", ScheduleRunner.Identity(family, swept, "data")["learning_rate"]);
        Assert.False(ScheduleRunner.Identity(family, options, "data").ContainsKey("learning_rate"));

        // A baseline family takes its own rate, else the run's.
        var transformer = ModelRegistry.Family("SampleTransformer");
        var flops = runner.PlannedFlops;
        Assert.All(new BaselineFamily(transformer, 5e-3).Plan(new PatternBatches(256), swept, flops).Scratch, p => Assert.Equal(5e-3, p.Options.LearningRate));
        Assert.All(new BaselineFamily(transformer).Plan(new PatternBatches(256), swept, flops).Scratch, p => Assert.Equal(3e-3, p.Options.LearningRate));
    }

    [Fact]
    public void TheForwardRatioInterpolatesTheScaleLadderInLogComputeAndMarksBounds()
    {
        // Progressive: 100 FLOPs to a final test loss of 2.0. Baselines of the same seeds at scales 1, 2 and 4: 100 FLOPs
        // to 2.4, 200 to 2.1, 400 to 1.9. Between 200 and 400 the loss falls 0.2 per doubling, so 2.0 lies half a doubling
        // past 200: 200·√2 FLOPs, a ratio of 100 / 282.84 = 0.3536.
        static SettingResult Setting(double scale, double flops, double loss, double progressiveLoss = 2.0)
            => new(new StudySetting(scale, SeedPair.Standard[0]),
                   new ScheduleResult(RunMode.Progressive, [new StageResult("Large", 10, 1, 1, 100 * scale, progressiveLoss, 0, null, null, progressiveLoss, progressiveLoss)], [], []),
                   new ScheduleResult(RunMode.Scratch, [new StageResult("Large", 10, 1, 1, flops, loss, 0, null, null, loss, loss)], [], []), "Large");
        var ladder = new[] { Setting(1, 100, 2.4), Setting(2, 200, 2.1), Setting(4, 400, 1.9) };
        var ratio = StudyFigures.Forward(ladder[0], ladder)!;
        Assert.Equal(RatioKind.Interpolated, ratio.Kind);
        Assert.Equal(100 / (200 * Math.Sqrt(2)), ratio.Ratio, 12);
        Assert.Equal(0.4, StudyFigures.Gaps(ladder[0]).Single().Gap, 12);

        // Never reached by the largest multiplier: an upper bound; reached at equal compute already: a lower bound.
        var unreached = Setting(1, 100, 2.4, progressiveLoss: 1.5);
        Assert.Equal(new ForwardRatio(100.0 / 400, RatioKind.AtMost), StudyFigures.Forward(unreached, [unreached, .. ladder[1..]]));
        var beaten = Setting(1, 100, 1.8);
        Assert.Equal(new ForwardRatio(1, RatioKind.AtLeast), StudyFigures.Forward(beaten, [beaten]));
        Assert.Equal("< 0.25", StudyFigures.Forward(unreached, [unreached, .. ladder[1..]])!.ToString());
    }

    [Fact]
    public void TheForwardFamilyRatioSumsWhatEveryStageFromScratchNeedsOffItsOwnLadder()
    {
        // Progressive: Small 20 FLOPs to 3.0, then Large 80 more (100 in all) to 2.0. Each stage from scratch at 1×, 2× and
        // 4× the progressive FLOPs up to it (scales 1, 2, 4): Small 20, 40, 80 FLOPs to 3.2, 2.9, 2.7; Large 100, 200, 400
        // to 2.4, 2.1, 1.9. Small reaches 3.0 two thirds of a doubling past 20 (20·2^(2/3) = 31.75), Large half a doubling
        // past 200 (282.84): the ratio is 100 / 314.59 = 0.3179.
        static StageResult Stage(string name, double flops, double loss) => new(name, 10, 1, 1, flops, loss, 0, null, null, loss, loss);
        static SettingResult Setting(double scale, double smallLoss, double largeLoss, double progressiveSmall = 3.0)
            => new(new StudySetting(scale, SeedPair.Standard[0]),
                   new ScheduleResult(RunMode.Progressive, [Stage("Small", 20 * scale, progressiveSmall), Stage("Large", 80 * scale, 2.0)], [], []),
                   new ScheduleResult(RunMode.Scratch, [Stage("Small", 20 * scale, smallLoss), Stage("Large", 100 * scale, largeLoss)], [], []), "Large");
        var study = new[] { Setting(1, 3.2, 2.4), Setting(2, 2.9, 2.1), Setting(4, 2.7, 1.9) };
        var family = StudyFigures.ForwardFamily(study[0], study)!;
        Assert.Equal(RatioKind.Interpolated, family.Kind);
        Assert.Equal(100 / (20 * Math.Pow(2, 2.0 / 3) + 200 * Math.Sqrt(2)), family.Ratio, 12);
        Assert.Equal(100 / (200 * Math.Sqrt(2)), StudyFigures.Forward(study[0], study)!.Ratio, 12);   // the largest stage's own ladder

        // Small from scratch already at 3.0 with 20 FLOPs: it needed at most 20, so the ratio is at least 100 / 302.84.
        var early = Setting(1, 2.95, 2.4);
        var bounded = StudyFigures.ForwardFamily(early, [early, .. study[1..]])!;
        Assert.Equal(RatioKind.AtLeast, bounded.Kind);
        Assert.Equal(100 / (20 + 200 * Math.Sqrt(2)), bounded.Ratio, 12);
        // Large never reached as well: bounds in opposite directions say nothing.
        var progressiveTooLow = Setting(1, 2.95, 2.4) with { Progressive = new ScheduleResult(RunMode.Progressive, [Stage("Small", 20, 3.0), Stage("Large", 80, 1.5)], [], []) };
        Assert.Null(StudyFigures.ForwardFamily(progressiveTooLow, [progressiveTooLow, .. study[1..]]));
        // A stage nobody trained from scratch: no figure.
        var largeOnly = study[0] with { Scratch = new ScheduleResult(RunMode.Scratch, [Stage("Large", 100, 2.4)], [], []) };
        Assert.Null(StudyFigures.ForwardFamily(largeOnly, [largeOnly]));
    }
}
