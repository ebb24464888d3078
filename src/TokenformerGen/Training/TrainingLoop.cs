namespace TokenformerGen.Training;

/// <summary>Hears what a training loop is doing (for progress bars and logs). Every member is optional.</summary>
public interface ITrainingObserver
{
    /// <summary>An optimizer step finished.</summary>
    void StepDone(StepMetrics metrics) { }

    /// <summary>A validation loss was measured after <paramref name="step"/> steps.</summary>
    void Evaluated(long step, double validationLoss, double? bitsPerByte) { }

    /// <summary>A checkpoint was written.</summary>
    void Saved(string path, long step) { }
}

/// <summary>How a training loop ended.</summary>
/// <param name="Progress">Where training stands (all steps done unless cancelled).</param>
/// <param name="ValidationLoss">Validation loss at the end (nats per token).</param>
/// <param name="BitsPerByte">The same in bits per UTF-8 byte, when the data knows its bytes per token.</param>
/// <param name="Checkpoint">The last checkpoint written or found, or null without a checkpoint folder.</param>
public sealed record TrainingOutcome(TrainingProgress Progress, double ValidationLoss, double? BitsPerByte, string? Checkpoint);

/// <summary>
/// Drives a <see cref="Trainer"/> to its last step: metrics per step, validation every
/// <see cref="TrainerOptions.EvalInterval"/> steps and at the end, a checkpoint every
/// <see cref="TrainerOptions.CheckpointInterval"/> steps and at the end. Combined with
/// <see cref="TrainingCheckpoints.Resume"/> and a <see cref="MetricsLog"/> opened at the resumed step, a killed
/// run started again continues exactly where its last checkpoint left it.
/// </summary>
public static class TrainingLoop
{
    /// <summary>Runs the remaining steps of <paramref name="trainer"/>.</summary>
    /// <param name="trainer">The trainer (fresh or resumed).</param>
    /// <param name="checkpointDirectory">Where <see cref="TrainingCheckpoints.Save"/> writes, or null for no checkpoints.</param>
    /// <param name="metrics">Where step and evaluation lines go, or null.</param>
    /// <param name="observer">Hears steps, evaluations and saves, or null.</param>
    /// <param name="cancellation">Stops after the current step (and saves when a checkpoint folder is given).</param>
    /// <param name="checkpointExtra">Entries to store in each checkpoint's metadata, asked for at every save (e.g. the caller's record of evaluations so far).</param>
    /// <param name="checkpointLastStep">
    /// False when the caller saves the finished stage itself (after the final evaluation): then no checkpoint of the last
    /// step is written, so a folder's newest checkpoint is always of a step whose every evaluation it has seen.
    /// </param>
    public static TrainingOutcome Run(Trainer trainer, string? checkpointDirectory, MetricsLog? metrics,
                                      ITrainingObserver? observer = null, CancellationToken cancellation = default,
                                      Func<IReadOnlyDictionary<string, string>>? checkpointExtra = null, bool checkpointLastStep = true)
    {
        var options = trainer.Options;
        var saved = checkpointDirectory is null ? null : TrainingCheckpoints.Latest(checkpointDirectory);
        long savedStep = saved is null ? -1 : trainer.Progress.Step;

        void Save()
        {
            if (checkpointDirectory is null || savedStep == trainer.Progress.Step || (trainer.Done && !checkpointLastStep)) return;
            saved = TrainingCheckpoints.Save(checkpointDirectory, trainer, extra: checkpointExtra?.Invoke());
            savedStep = trainer.Progress.Step;
            observer?.Saved(saved, savedStep);
        }

        (double Loss, double? Bpb) Evaluate()
        {
            var loss = trainer.Evaluate();
            double? bpb = trainer.Data.TokensPerByte is double perByte ? Evaluation.BitsPerByte(loss, perByte) : null;
            metrics?.WriteEvaluation(trainer.Progress.Step, loss, bpb);
            observer?.Evaluated(trainer.Progress.Step, loss, bpb);
            return (loss, bpb);
        }

        (double Loss, double? Bpb)? last = null;
        while (!trainer.Done && !cancellation.IsCancellationRequested)
        {
            var step = trainer.Step();
            metrics?.Write(step);
            observer?.StepDone(step);
            last = null;
            if (options.EvalInterval > 0 && step.Step % options.EvalInterval == 0 && !trainer.Done) last = Evaluate();
            if (options.CheckpointInterval > 0 && step.Step % options.CheckpointInterval == 0) Save();
        }
        Save();
        var (finalLoss, finalBpb) = last ?? Evaluate();
        return new TrainingOutcome(trainer.Progress, finalLoss, finalBpb, saved);
    }
}
