namespace TokenformerGen.Text.ZeroShot;

/// <summary>
/// What scoring needs from a model, whatever runs it (TorchSharp, ONNX Runtime): a causal forward over a batch of
/// right-padded rows returning raw logits at the positions asked for. <see cref="LogLikelihoodScorer"/> does the rest
/// (log-softmax over the full width, the continuation's sum, greedy or not) once for every engine.
/// </summary>
public interface ILogLikelihoodModel
{
    /// <summary>The longest input a row may have (lm-evaluation-harness's <c>max_length</c>: the model's context).</summary>
    int Context { get; }

    /// <summary>The logits' width: the padded vocabulary (e.g. 50,304), every column of it.</summary>
    int OutputWidth { get; }

    /// <summary>
    /// Runs <paramref name="ids"/> (row-major <c>[spans.Count, length]</c>, each row right-padded; causal attention keeps
    /// padding from reaching earlier positions) and returns, row after row, the float32 logits at positions
    /// <c>[Start, Start + Count)</c> of that row's span: <c>[Σ Count, OutputWidth]</c> row-major.
    /// </summary>
    float[] Logits(long[] ids, int length, IReadOnlyList<(int Start, int Count)> spans);
}
