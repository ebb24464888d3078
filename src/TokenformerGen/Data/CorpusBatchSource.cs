namespace TokenformerGen.Data;

/// <summary>Feeds a trainer from a tokenized corpus: random training windows, the held-out tail's halves for validation and test.</summary>
/// <param name="corpus">The tokenized corpus (not owned).</param>
/// <param name="seed">Seed of the window positions.</param>
public sealed class CorpusBatchSource(TokenCorpus corpus, long seed) : IBatchSource
{
    /// <inheritdoc />
    public double? TokensPerByte => corpus.HeldOutBytes == 0 ? null : 1 / corpus.HeldOutBytesPerToken;

    /// <inheritdoc />
    public TokenBatch TrainBatch(long step, int micro, int batch, int context)
        => corpus.Sample(DataSplit.Train, batch, context, seed, (step << 16) | (uint)micro);   // one sample stream per micro-batch

    /// <inheritdoc />
    public IEnumerable<TokenBatch> HeldOutBatches(DataSplit split, int batch, int context, int maxBatches)
        => split == DataSplit.Train
            ? throw new ArgumentOutOfRangeException(nameof(split), split, "training windows are drawn with TrainBatch")
            : corpus.Sequential(split, batch, context, maxBatches);
}
