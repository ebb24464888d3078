using TokenformerGen.Checkpoints;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Training;

namespace TokenformerGen.Tests.Training;

public sealed class ResumeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-resume-").FullName;
    private static readonly TrainerOptions Options = new() { Steps = 12, Batch = 2, Context = 16, LearningRate = 1e-2, WarmupShare = 0.2 };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void ResumingFromACheckpointReproducesTheUninterruptedLosses()
    {
        var data = new PatternBatches(40);
        var model = new SampleSmall();
        model.InitializeFromScratch(5);
        var uninterrupted = new List<double>();
        using (var trainer = new Trainer(model, data, Options))
            while (!trainer.Done) uninterrupted.Add(trainer.Step().Loss);

        // Train again, checkpoint at step 5, "die" at step 8 (steps 6-8 are lost), resume from the checkpoint.
        var first = new SampleSmall();
        first.InitializeFromScratch(5);
        using (var trainer = new Trainer(first, data, Options))
        {
            for (var i = 0; i < 8; i++)
            {
                trainer.Step();
                if (trainer.Progress.Step == 5) TrainingCheckpoints.Save(_directory, trainer);
            }
        }
        var latest = TrainingCheckpoints.Latest(_directory)!;
        var resumedModel = new SampleSmall();
        var (optimizer, progress) = TrainingCheckpoints.Resume(latest, resumedModel, Options);
        Assert.Equal(5, progress.Step);
        Assert.Equal(5 * Options.TokensPerStep, progress.Tokens);
        var resumed = new List<double>();
        using (var trainer = new Trainer(resumedModel, data, Options, optimizer, progress))
            while (!trainer.Done) resumed.Add(trainer.Step().Loss);

        // Training is deterministic and a checkpoint holds everything it depends on: the losses are the same, bit for bit.
        Assert.Equal(uninterrupted.Skip(5), resumed);
    }

    [Fact]
    public void CheckpointsArePrunedAndTheResumeRefusesAnotherStage()
    {
        var model = new SampleSmall();
        model.InitializeFromScratch(1);
        using var trainer = new Trainer(model, new PatternBatches(40), Options);
        for (var i = 0; i < 4; i++)
        {
            trainer.Step();
            TrainingCheckpoints.Save(_directory, trainer, keep: 2);
        }
        Assert.Equal(["step-00000003.safetensors", "step-00000004.safetensors"],
                     Directory.GetFiles(_directory, "step-*").Select(Path.GetFileName).Where(f => !f!.Contains("optimizer")).Order());
        Assert.EndsWith("step-00000004.safetensors", TrainingCheckpoints.Latest(_directory));
        Assert.Null(TrainingCheckpoints.Latest(Path.Combine(_directory, "missing")));
    }

    [Fact]
    public void MetricsLogDropsLinesPastTheResumedStep()
    {
        var path = Path.Combine(_directory, "metrics.jsonl");
        using (var log = new MetricsLog(path))
        {
            for (var step = 1; step <= 6; step++) log.Write(new StepMetrics(step, 1.0 / step, step * 10, step * 100, step, 10, 1e-3, 0.5));
            log.WriteEvaluation(6, 0.9, null);
        }
        File.AppendAllText(path, "{\"step\": 7, \"lo");   // torn by a kill
        using (var log = new MetricsLog(path, resumeStep: 4))
            log.Write(new StepMetrics(5, 0.2, 50, 500, 5, 10, 1e-3, 0.5));
        var lines = File.ReadAllLines(path);
        Assert.Equal(5, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("{\"step\":", l));
        Assert.Contains("\"tokens_per_s\":10", lines[^1]);
    }
}
