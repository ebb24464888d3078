using TokenformerGen.Text.Data;

namespace TokenformerGen.Text.ZeroShot;

/// <summary>
/// A request in tokens, as lm-evaluation-harness 0.4.1's <c>_encode_pair</c> makes it: the context's trailing whitespace
/// moves into the continuation; the context's tokens are its own encoding and the continuation's are the joint
/// encoding of both minus as many leading tokens as the context alone encodes to (no BOS or EOS). An empty context becomes the end-of-text token.
/// </summary>
/// <param name="Context">The context's tokens.</param>
/// <param name="Continuation">The continuation's tokens (at least one).</param>
public sealed record EncodedRequest(int[] Context, int[] Continuation)
{
    /// <summary>Encodes one request.</summary>
    /// <exception cref="ArgumentException">The continuation encodes to no token.</exception>
    public static EncodedRequest Encode(ITextTokenizer tokenizer, RequestText request)
    {
        var (context, continuation) = request;
        if (context.Length == 0)
            return new([tokenizer.EndOfText ?? 0], tokenizer.Encode(continuation));
        var kept = PythonText.RStrip(context);
        if (kept.Length < context.Length)
        {
            continuation = context[kept.Length..] + continuation;
            context = kept;
        }
        // The model reads the context's own tokens followed by the joint encoding's tail, even where BPE merged across
        // the boundary in the joint encoding.
        var whole = tokenizer.Encode(context + continuation);
        var contextTokens = tokenizer.Encode(context);
        var result = new EncodedRequest(contextTokens, whole[Math.Min(contextTokens.Length, whole.Length)..]);
        if (result.Continuation.Length == 0)
            throw new ArgumentException($"the continuation \"{request.Continuation}\" adds no token to its context", nameof(request));
        return result;
    }

    /// <summary>
    /// The model's input for a context of <paramref name="maxLength"/>: the last <c>maxLength + 1</c> tokens of context
    /// and continuation without the very last (left truncation keeps the continuation), and whether anything was cut.
    /// </summary>
    public (long[] Input, bool Truncated) Input(int maxLength)
    {
        var whole = Context.Length + Continuation.Length;
        var start = Math.Max(0, whole - (maxLength + 1));
        var input = new long[whole - start - 1];
        for (var i = 0; i < input.Length; i++)
        {
            var at = start + i;
            input[i] = at < Context.Length ? Context[at] : Continuation[at - Context.Length];
        }
        return (input, start > 0);
    }
}

/// <summary>The model's answer to one request, as lm-evaluation-harness returns it.</summary>
/// <param name="LogLikelihood">The sum over the continuation's tokens of their log-probabilities (log-softmax over the full output width).</param>
/// <param name="IsGreedy">Whether every continuation token is the argmax of its position's logits.</param>
/// <param name="Truncated">Whether the request was longer than the context and lost tokens on the left.</param>
public readonly record struct RequestScore(double LogLikelihood, bool IsGreedy, bool Truncated);

/// <summary>
/// Scores encoded requests with lm-evaluation-harness 0.4.1's <c>_loglikelihood_tokens</c>: requests sorted longest
/// first, batched and right-padded; per request the log-softmax of each continuation position over every column, summed
/// at the continuation's tokens, and whether each token is the position's argmax (the first, on a tie). Results come back
/// in the order given and do not depend on the batch size beyond float32 rounding.
/// </summary>
public static class LogLikelihoodScorer
{
    /// <summary>Scores <paramref name="requests"/> in batches of <paramref name="batch"/> rows.</summary>
    /// <exception cref="ArgumentException">A continuation is longer than the model's context.</exception>
    public static RequestScore[] Score(ILogLikelihoodModel model, IReadOnlyList<EncodedRequest> requests, int batch, Action<int>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        var maxLength = model.Context;
        foreach (var request in requests)
            if (request.Continuation.Length > maxLength)
                throw new ArgumentException($"a continuation of {request.Continuation.Length} tokens does not fit the context of {maxLength}", nameof(requests));

        // lm-evaluation-harness's order: longest first, ties by the tokens themselves, so each batch pads little.
        var order = Enumerable.Range(0, requests.Count)
            .OrderByDescending(i => requests[i].Context.Length + requests[i].Continuation.Length)
            .ThenBy(i => requests[i].Context.Concat(requests[i].Continuation), TokenOrder.Instance)
            .ThenBy(i => i)
            .ToArray();
        var scores = new RequestScore[requests.Count];
        for (var first = 0; first < order.Length; first += batch)
        {
            var rows = order.AsSpan(first, Math.Min(batch, order.Length - first)).ToArray();
            var inputs = rows.Select(i => requests[i].Input(maxLength)).ToArray();
            var length = inputs.Max(x => x.Input.Length);
            var ids = new long[rows.Length * length];
            var spans = new (int Start, int Count)[rows.Length];
            for (var r = 0; r < rows.Length; r++)
            {
                var input = inputs[r].Input;
                input.CopyTo(ids, r * length);
                var count = requests[rows[r]].Continuation.Length;
                spans[r] = (input.Length - count, count);
            }
            var logits = model.Logits(ids, length, spans);
            var width = model.OutputWidth;
            var at = 0;
            for (var r = 0; r < rows.Length; r++)
            {
                var continuation = requests[rows[r]].Continuation;
                double sum = 0;
                var greedy = true;
                foreach (var token in continuation)
                {
                    var row = logits.AsSpan(at * width, width);
                    var (logProbability, isArgmax) = LogSoftmaxAt(row, token);
                    sum += logProbability;
                    greedy &= isArgmax;
                    at++;
                }
                scores[rows[r]] = new RequestScore(sum, greedy, inputs[r].Truncated);
            }
            progress?.Invoke(rows.Length);
        }
        return scores;
    }

    /// <summary>log_softmax(row)[token] in float64, and whether <paramref name="token"/> is the row's first argmax.</summary>
    public static (double LogProbability, bool IsArgmax) LogSoftmaxAt(ReadOnlySpan<float> row, int token)
    {
        var argmax = 0;
        for (var i = 1; i < row.Length; i++)
            if (row[i] > row[argmax]) argmax = i;
        double max = row[argmax], sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return (row[token] - max - Math.Log(sum), argmax == token);
    }

    private sealed class TokenOrder : IComparer<IEnumerable<int>>
    {
        public static readonly TokenOrder Instance = new();

        public int Compare(IEnumerable<int>? x, IEnumerable<int>? y)
        {
            using var a = x!.GetEnumerator();
            using var b = y!.GetEnumerator();
            while (true)
            {
                var (hasA, hasB) = (a.MoveNext(), b.MoveNext());
                if (!hasA || !hasB) return hasA.CompareTo(hasB);
                var c = a.Current.CompareTo(b.Current);
                if (c != 0) return c;
            }
        }
    }
}
