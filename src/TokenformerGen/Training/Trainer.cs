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
/// temporaries freed by a dispose scope so memory stays flat. Training follows the model's device and precision
/// (<see cref="TokenformerModel.Place"/>): batches are moved there once per step, and a step reads values back only
/// once, at its end (no host synchronisation per micro-batch).
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly IBatchSource _data;
    private readonly double _flopsPerToken;

    /// <summary>Prepares training of <paramref name="model"/>; pass <paramref name="optimizer"/> and <paramref name="progress"/> to resume.</summary>
    public Trainer(TokenformerModel model, IBatchSource data, TrainerOptions options, AdamW? optimizer = null, TrainingProgress? progress = null)
    {
        model.RequireMasterWeights("trained");
        Model = model;
        _data = data;
        Options = options;
        Optimizer = optimizer ?? new AdamW(model.NamedParameters(), weightDecay: options.WeightDecay);
        Progress = progress ?? TrainingProgress.Start;
        Schedule = options.EffectiveSchedule;
        _flopsPerToken = model.Stage.TrainingFlopsPerTokenAt(options.Context);
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
        var step = Progress.Step;
        var learningRate = Schedule.At(step);
        double lossSum, gradientNorm;
        using (var scope = NewDisposeScope())
        {
            var work = Compute(step, learningRate);
            lossSum = work.LossSum.item<double>();   // the step's only reads, after all its work
            gradientNorm = work.GradientNorm.item<float>();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Progress = new TrainingProgress(step + 1, Progress.Tokens + Options.TokensPerStep,
                                        Progress.Flops + _flopsPerToken * Options.TokensPerStep, Progress.WallSeconds + seconds);
        return new StepMetrics(Progress.Step, lossSum / Options.GradientAccumulation, Progress.Tokens, Progress.Flops,
                               Progress.WallSeconds, Options.TokensPerStep / Math.Max(seconds, 1e-9), learningRate, gradientNorm);
    }

    /// <summary>
    /// The work of optimizer step <paramref name="step"/> on the model's device — forward and backward of every
    /// micro-batch, clipping, the AdamW update — without reading any value back. Returns, on that device, the sum of
    /// the micro-batch losses (float64, each a float32 mean) and the gradient norm before clipping. Progress is not advanced.
    /// </summary>
    internal (Tensor LossSum, Tensor GradientNorm) Compute(long step, double learningRate)
    {
        Model.train();
        var device = Model.Device;
        var lossSum = zeros([], ScalarType.Float64, device);
        for (var micro = 0; micro < Options.GradientAccumulation; micro++)
        {
            using var batch = _data.TrainBatch(step, micro, Options.Batch, Options.Context);
            using var loss = Evaluation.BatchLoss(Model, batch, nn.Reduction.Mean);
            using (var share = loss / Options.GradientAccumulation) share.backward();
            lossSum.add_(loss.detach().to(ScalarType.Float64));
        }
        // With clipping off, the norm is still reported; the optimizer applies the clipping coefficient as it updates.
        var (gradientNorm, clipScale) = GradientNorm(Model.parameters(), Options.ClipNorm);
        using (clipScale) Optimizer.Step(learningRate, clipScale);
        Optimizer.ZeroGrad();
        return (lossSum, gradientNorm);
    }

    // ‖g‖, the 2-norm of all gradients as one vector, and (when maxNorm > 0) the clipping coefficient
    // min(1, maxNorm / (‖g‖ + 1e-6)), both on the gradients' device: libtorch's clip_grad_norm_ without its read of the
    // norm (which would synchronise with a GPU) and without its pass over the gradients, which the optimizer's update does.
    internal static (Tensor Norm, Tensor? Scale) GradientNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var gradients = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (gradients.Count == 0) return (zeros([], ScalarType.Float32).MoveToOuterDisposeScope(), null);
        var norms = gradients.Select(g => linalg.vector_norm(g, 2)).ToArray();
        var total = norms.Length == 1 ? norms[0] : linalg.vector_norm(stack(norms), 2);
        if (maxNorm <= 0) return (total.MoveToOuterDisposeScope(), null);
        var coefficient = full_like(total, maxNorm).div_(total + 1e-6).clamp_max_(1.0);
        return (total.MoveToOuterDisposeScope(), coefficient.MoveToOuterDisposeScope());
    }

    /// <summary>Mean validation loss (nats per token) over at most <see cref="TrainerOptions.EvalBatches"/> batches.</summary>
    public double Evaluate() => Evaluation.Loss(Model, _data, Options.Batch, Options.Context, Options.EvalBatches);

    /// <summary>Frees the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();
}

/// <summary>Validation loss of any model over a batch source.</summary>
public static class Evaluation
{
    /// <summary>
    /// Mean cross-entropy (nats per token) over at most <paramref name="maxBatches"/> batches of a held-out split (validation
    /// unless told), on the model's device and in its precision (the loss itself in float32); the sum is read back once, at the end.
    /// </summary>
    public static double Loss(TokenformerModel model, IBatchSource data, int batch, int context, int maxBatches, DataSplit split = DataSplit.Validation)
    {
        model.eval();
        using var _ = no_grad();
        var device = model.Device;
        using var total = zeros([], ScalarType.Float64, device);
        long count = 0;
        foreach (var tokens in data.HeldOutBatches(split, batch, context, maxBatches))
        {
            using var scope = NewDisposeScope();
            using var owned = tokens;
            total.add_(BatchLoss(model, tokens, nn.Reduction.Sum).to(ScalarType.Float64));
            count += tokens.Targets.numel();
        }
        return count == 0 ? double.NaN : total.item<double>() / count;
    }

    /// <summary>
    /// Cross-entropy of <paramref name="model"/>'s next-token predictions on <paramref name="batch"/>, reduced as
    /// <paramref name="reduction"/> says, on the model's device (the batch is moved there once): the one loss that
    /// training and evaluation both compute.
    /// </summary>
    internal static Tensor BatchLoss(TokenformerModel model, TokenBatch batch, nn.Reduction reduction)
    {
        var device = model.Device;
        using var inputs = batch.Inputs.to(device);
        using var targets = batch.Targets.to(device);
        using var logits = model.call(inputs);
        using var flatLogits = logits.view(-1, logits.shape[^1]);
        using var flatTargets = targets.view(-1);
        return nn.functional.cross_entropy(flatLogits, flatTargets, reduction: reduction);
    }

    /// <summary>Bits per byte from a loss in nats per token.</summary>
    public static double BitsPerByte(double lossNatsPerToken, double tokensPerByte) => lossNatsPerToken * tokensPerByte / Math.Log(2);
}
