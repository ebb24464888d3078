namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>
/// The seam between <see cref="ContinuousBatcher"/> and a graph: start sequences from their prompts, then advance every
/// started sequence by one token in one call. Rows are disposed when their sequence leaves the batch.
/// </summary>
/// <remarks>
/// Called from the batcher's one decoding thread only. Rows hold different numbers of positions; an implementation
/// decides how they share a run (<see cref="OrtBatchDecoder"/>: one run of a graph with an attention mask).
/// </remarks>
public interface IBatchDecoder : IDisposable
{
    /// <summary>Positions a row may hold (prompt plus generated tokens).</summary>
    int Context { get; }

    /// <summary>Logits per position (the padded vocabulary).</summary>
    int Logits { get; }

    /// <summary>
    /// Runs each of <paramref name="prompts"/> through an empty cache (together where the implementation can) and returns,
    /// in their order, each new row with its prompt's last-position logits.
    /// </summary>
    IReadOnlyList<(IDecoderRow Row, float[] Logits)> Start(IReadOnlyList<IReadOnlyList<long>> prompts);

    /// <summary>
    /// Feeds <paramref name="tokens"/>[i] to <paramref name="rows"/>[i], each after the positions that row holds, and
    /// returns the logits row-major <c>[rows, Logits]</c>.
    /// </summary>
    float[] Step(IReadOnlyList<IDecoderRow> rows, IReadOnlyList<long> tokens);
}

/// <summary>One sequence of an <see cref="IBatchDecoder"/>: its cached positions. Disposing it takes it out of the batch and frees them.</summary>
public interface IDecoderRow : IDisposable;
