namespace TokenformerGen.Data;

/// <summary>Token batches for training and evaluation.</summary>
public interface IBatchSource
{
    /// <summary>
    /// The training batch of micro-batch <paramref name="micro"/> of optimizer step
    /// <paramref name="step"/>: inputs and next-token targets, int64 <c>[batch, context]</c>. A pure
    /// function of its arguments, so a resumed run sees exactly the batches an uninterrupted one would.
    /// </summary>
    TokenBatch TrainBatch(long step, int micro, int batch, int context);

    /// <summary>
    /// Batches of a held-out split (<see cref="DataSplit.Validation"/> or <see cref="DataSplit.Test"/>), in a fixed order, at
    /// most <paramref name="maxBatches"/> of them.
    /// </summary>
    IEnumerable<TokenBatch> HeldOutBatches(DataSplit split, int batch, int context, int maxBatches);

    /// <summary>Held-out tokens per UTF-8 byte, to turn nats per token into bits per byte; null when unknown.</summary>
    double? TokensPerByte { get; }
}
