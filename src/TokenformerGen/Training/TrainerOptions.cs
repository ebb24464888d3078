namespace TokenformerGen.Training;

/// <summary>The knobs of one training run (one stage). Defaults follow the spec's recipe.</summary>
public sealed record TrainerOptions
{
    /// <summary>Optimizer steps.</summary>
    public required long Steps { get; init; }

    /// <summary>Sequences per micro-batch.</summary>
    public required int Batch { get; init; }

    /// <summary>Tokens per sequence.</summary>
    public required int Context { get; init; }

    /// <summary>Micro-batches per optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 6e-4;

    /// <summary>Share of steps in linear warmup.</summary>
    public double WarmupShare { get; init; } = 0.01;

    /// <summary>Final learning rate as a share of the peak.</summary>
    public double MinimumLearningRateRatio { get; init; } = 0.1;

    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>Decoupled weight decay of matrices.</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Seed of the data order.</summary>
    public long DataSeed { get; init; } = 1;

    /// <summary>Validate every this many steps (0 = only at the end).</summary>
    public int EvalInterval { get; init; }

    /// <summary>Validation batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 8;

    /// <summary>Checkpoint every this many steps (0 = only at the end); needs a checkpoint folder.</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Tokens per optimizer step.</summary>
    public long TokensPerStep => (long)Batch * Context * GradientAccumulation;
}
