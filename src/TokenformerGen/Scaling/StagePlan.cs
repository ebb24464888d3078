using TokenformerGen.Data;
using TokenformerGen.Families;
using TokenformerGen.Training;

namespace TokenformerGen.Scaling;

/// <summary>Which side of a schedule run a stage belongs to.</summary>
public enum RunMode
{
    /// <summary>Grown stage by stage from the root.</summary>
    Progressive,
    /// <summary>Trained from scratch, a reference for the progressive run.</summary>
    Scratch,
}

/// <summary>How run folders and reports spell a <see cref="RunMode"/>.</summary>
public static class RunModeNames
{
    /// <summary><c>progressive</c> or <c>scratch</c>: the mode's folder inside a run folder, and its name in reports and results.json.</summary>
    public static string Name(this RunMode mode) => mode == RunMode.Progressive ? "progressive" : "scratch";
}

/// <summary>How one stage of a schedule run is trained.</summary>
/// <param name="Mode">Progressive or from scratch.</param>
/// <param name="Stage">The stage.</param>
/// <param name="Options">Steps, batch, context, learning-rate curve, evaluation and checkpoint intervals.</param>
/// <param name="DataStart">The stage's step 0 reads the batches of this step of the data stream: a progressive run reads on
/// through its stages instead of seeing the root's batches again.</param>
/// <param name="SharedWithProgressive">True for a scratch stage that is the progressive run's root trained the same way:
/// it is taken from that run, never trained twice.</param>
public sealed record StagePlan(RunMode Mode, StageInfo Stage, TrainerOptions Options, long DataStart, bool SharedWithProgressive = false)
{
    /// <summary>Training FLOPs of the whole stage: steps × tokens per step × FLOPs per token, exactly.</summary>
    public decimal Flops => Options.Steps * FlopsPerStep;

    /// <summary>Training FLOPs of one optimizer step.</summary>
    public decimal FlopsPerStep => (decimal)Options.TokensPerStep * Stage.TrainingFlopsPerTokenAt(Options.Context);
}

/// <summary>A batch source read from a later step on: step s of a trainer is step <paramref name="start"/> + s of <paramref name="inner"/>.</summary>
internal sealed class OffsetBatches(IBatchSource inner, long start) : IBatchSource
{
    public double? TokensPerByte => inner.TokensPerByte;

    public TokenBatch TrainBatch(long step, int micro, int batch, int context) => inner.TrainBatch(start + step, micro, batch, context);

    public IEnumerable<TokenBatch> HeldOutBatches(DataSplit split, int batch, int context, int maxBatches) => inner.HeldOutBatches(split, batch, context, maxBatches);
}
