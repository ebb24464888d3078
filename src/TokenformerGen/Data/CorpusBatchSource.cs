namespace TokenformerGen.Data;

/// <summary>Feeds a trainer from a tokenized corpus: random training windows, the held-out tail for validation.</summary>
/// <param name="corpus">The tokenized corpus (not owned).</param>
/// <param name="seed">Seed of the window positions.</param>
public sealed class CorpusBatchSource(TokenCorpus corpus, long seed) : IBatchSource
{
    /// <inheritdoc />
    public double? TokensPerByte => corpus.ValidationBytes == 0 ? null : 1 / corpus.ValidationBytesPerToken;

    /// <inheritdoc />
    public TokenBatch TrainBatch(long step, int micro, int batch, int context)
        => corpus.Sample(DataSplit.Train, batch, context, seed, (step << 16) | (uint)micro);   // one sample stream per micro-batch

    /// <inheritdoc />
    public IEnumerable<TokenBatch> ValidationBatches(int batch, int context, int maxBatches)
        => corpus.Sequential(DataSplit.Validation, batch, context, maxBatches);
}
