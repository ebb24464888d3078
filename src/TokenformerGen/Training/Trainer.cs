using System.Diagnostics;
using TokenformerGen.Data;
using TokenformerGen.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Training;

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">Steps done, counting this one.</param>
/// <param name="Loss">Mean training loss over the step's micro-batches (nats per token).</param>
/// <param name="Tokens">Tokens trained on so far in this stage.</param>
/// <param name="Flops">Training FLOPs so far in this stage.</param>
/// <param name="WallSeconds">Training wall time so far in this stage.</param>
/// <param name="TokensPerSecond">Throughput of this step.</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
public sealed record StepMetrics(long Step, double Loss, long Tokens, double Flops, double WallSeconds, double TokensPerSecond, double LearningRate, double GradientNorm);

/// <summary>Where a stage's training stands; saved with checkpoints so a resumed run carries on exactly.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Tokens">Tokens trained on.</param>
/// <param name="Flops">Training FLOPs spent.</param>
/// <param name="WallSeconds">Wall time spent training.</param>
public sealed record TrainingProgress(long Step, long Tokens, double Flops, double WallSeconds)
{
    /// <summary>Nothing done yet.</summary>
    public static TrainingProgress Start { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// Trains one stage: AdamW, warmup + cosine schedule, gradient clipping and accumulation, each step's
/// temporaries freed by a dispose scope so memory stays flat.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly IBatchSource _data;
    private readonly double _flopsPerToken;

    /// <summary>Prepares training of <paramref name="model"/>; pass <paramref name="optimizer"/> and <paramref name="progress"/> to resume.</summary>
    public Trainer(TokenformerModel model, IBatchSource data, TrainerOptions options, AdamW? optimizer = null, TrainingProgress? progress = null)
    {
        Model = model;
        _data = data;
        Options = options;
        Optimizer = optimizer ?? new AdamW(model.NamedParameters(), weightDecay: options.WeightDecay);
        Progress = progress ?? TrainingProgress.Start;
        Schedule = options.EffectiveSchedule;
        _flopsPerToken = TrainerOptions.TrainingFlopsPerToken(model.Stage, options.Context);
    }

    /// <summary>The model being trained.</summary>
    public TokenformerModel Model { get; }

    /// <summary>The run's options.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Where the batches come from.</summary>
    public IBatchSource Data => _data;

    /// <summary>The optimizer (its state is part of a checkpoint).</summary>
    public AdamW Optimizer { get; }

    /// <summary>The learning-rate schedule of this stage.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>Where training stands.</summary>
    public TrainingProgress Progress { get; private set; }

    /// <summary>True when every step has been taken.</summary>
    public bool Done => Progress.Step >= Options.Steps;

    /// <summary>Takes one optimizer step.</summary>
    public StepMetrics Step()
    {
        var clock = Stopwatch.StartNew();
        Model.train();
        var step = Progress.Step;
        var learningRate = Schedule.At(step);
        double lossSum = 0, gradientNorm;
        using (var scope = NewDisposeScope())
        {
            for (var micro = 0; micro < Options.GradientAccumulation; micro++)
            {
                using var batch = _data.TrainBatch(step, micro, Options.Batch, Options.Context);
                var logits = Model.call(batch.Inputs);
                var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), batch.Targets.view(-1));
                (loss / Options.GradientAccumulation).backward();
                lossSum += loss.item<float>();
            }
            var parameters = Model.parameters().ToList();
            // With clipping off, an infinite bound still reports the norm, in one reduction.
            gradientNorm = nn.utils.clip_grad_norm_(parameters, Options.ClipNorm > 0 ? Options.ClipNorm : double.PositiveInfinity);
            Optimizer.Step(learningRate);
            Optimizer.ZeroGrad();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Progress = new TrainingProgress(step + 1, Progress.Tokens + Options.TokensPerStep,
                                        Progress.Flops + _flopsPerToken * Options.TokensPerStep, Progress.WallSeconds + seconds);
        return new StepMetrics(Progress.Step, lossSum / Options.GradientAccumulation, Progress.Tokens, Progress.Flops,
                               Progress.WallSeconds, Options.TokensPerStep / Math.Max(seconds, 1e-9), learningRate, gradientNorm);
    }

    /// <summary>Mean validation loss (nats per token) over at most <see cref="TrainerOptions.EvalBatches"/> batches.</summary>
    public double Evaluate() => Evaluation.Loss(Model, _data, Options.Batch, Options.Context, Options.EvalBatches);

    /// <summary>Frees the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();
}

/// <summary>Validation loss of any model over a batch source.</summary>
public static class Evaluation
{
    /// <summary>Mean cross-entropy (nats per token) over at most <paramref name="maxBatches"/> validation batches.</summary>
    public static double Loss(TokenformerModel model, IBatchSource data, int batch, int context, int maxBatches)
    {
        model.eval();
        using var _ = no_grad();
        double total = 0;
        long count = 0;
        foreach (var tokens in data.ValidationBatches(batch, context, maxBatches))
        {
            using var scope = NewDisposeScope();
            using var owned = tokens;
            var logits = model.call(tokens.Inputs);
            var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), tokens.Targets.view(-1), reduction: nn.Reduction.Sum);
            total += loss.item<float>();
            count += tokens.Targets.numel();
        }
        return count == 0 ? double.NaN : total / count;
    }

    /// <summary>Bits per byte from a loss in nats per token.</summary>
    public static double BitsPerByte(double lossNatsPerToken, double tokensPerByte) => lossNatsPerToken * tokensPerByte / Math.Log(2);
}
