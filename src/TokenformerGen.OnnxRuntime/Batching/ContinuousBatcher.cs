using System.Threading.Channels;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>Limits of a <see cref="ContinuousBatcher"/>.</summary>
/// <param name="MaxBatch">Sequences decoded together at most; the rest wait.</param>
/// <param name="QueueCapacity">Sequences that may wait for a place in the batch; one more is refused with <see cref="BatcherFullException"/>.</param>
public sealed record BatcherOptions(int MaxBatch = 16, int QueueCapacity = 64)
{
    /// <summary>Checks the limits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The batch is under 1 or the queue negative.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatch, 1, nameof(MaxBatch));
        ArgumentOutOfRangeException.ThrowIfNegative(QueueCapacity, nameof(QueueCapacity));
    }
}

/// <summary>What to generate for one sequence.</summary>
/// <param name="Prompt">The prompt's ids (at least one).</param>
/// <param name="MaxTokens">Tokens to generate at most; prompt plus these must fit the decoder's context.</param>
/// <param name="Sampling">How each token is picked (its own seeded generator per sequence).</param>
/// <param name="EndOfText">An id that ends the sequence when picked (not emitted), or null.</param>
public sealed record TokenRequest(IReadOnlyList<long> Prompt, int MaxTokens, SamplingOptions Sampling, long? EndOfText = null);

/// <summary>Why a sequence stopped.</summary>
public enum TokenFinish
{
    /// <summary>It generated its maximum number of tokens.</summary>
    Length,

    /// <summary>It picked the end-of-text id.</summary>
    EndOfText,
}

/// <summary>The tokens of one submitted sequence, as they are picked.</summary>
public sealed class TokenStream
{
    private readonly Channel<long> _tokens = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Generated ids; the reader completes when the sequence ends, with the error or cancellation that ended it, if any.</summary>
    public ChannelReader<long> Tokens => _tokens.Reader;

    /// <summary>Why the sequence stopped, once <see cref="Tokens"/> has completed without an error.</summary>
    public TokenFinish? Finish { get; private set; }

    internal void Write(long token) => _tokens.Writer.TryWrite(token);

    internal void Complete(TokenFinish finish)
    {
        Finish = finish;
        _tokens.Writer.TryComplete();
    }

    internal void Fail(Exception error) => _tokens.Writer.TryComplete(error);
}

/// <summary>More sequences were submitted than the batch and its queue hold; nothing was queued.</summary>
public sealed class BatcherFullException(string message) : Exception(message);

/// <summary>Counts since a <see cref="ContinuousBatcher"/> started, and what it holds now.</summary>
/// <param name="Submitted">Sequences accepted.</param>
/// <param name="Refused">Sequences refused because the queue was full.</param>
/// <param name="Finished">Sequences that ended by length or end of text.</param>
/// <param name="Cancelled">Sequences whose caller cancelled them (waiting or decoding).</param>
/// <param name="Failed">Sequences ended by an error of the decoder.</param>
/// <param name="Steps">Decoding steps (one call advancing every running sequence by a token).</param>
/// <param name="RowSteps">Rows over all steps; ÷ <paramref name="Steps"/> is the mean batch.</param>
/// <param name="LargestStep">Most rows one step advanced.</param>
/// <param name="Running">Sequences in the batch now.</param>
/// <param name="Waiting">Sequences queued now.</param>
public sealed record BatcherStatistics(long Submitted, long Refused, long Finished, long Cancelled, long Failed, long Steps, long RowSteps, int LargestStep, int Running, int Waiting);

/// <summary>
/// Continuous batching: sequences submitted from any thread are decoded together on one thread. Each loop turn, the
/// sequences cancelled since the last one leave the batch, waiting ones join it (their prompts run together) up to
/// <see cref="BatcherOptions.MaxBatch"/>, and one <see cref="IBatchDecoder.Step"/> advances every running sequence by
/// a token; a sequence leaves as soon as it ends. At most <see cref="BatcherOptions.QueueCapacity"/> wait; more are
/// refused at once. Memory is bounded by the batch: at most <c>MaxBatch</c> rows of at most the decoder's context.
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    private readonly IBatchDecoder _decoder;
    private readonly BatcherOptions _options;
    private readonly object _lock = new();
    private readonly LinkedList<Job> _waiting = new();
    private readonly List<Job> _running = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private bool _stopping;
    private long _submitted, _refused, _finished, _cancelled, _failed, _steps, _rowSteps;
    private int _largestStep, _runningCount;

    /// <summary>Starts the decoding thread over <paramref name="decoder"/>, which the batcher owns from now on.</summary>
    public ContinuousBatcher(IBatchDecoder decoder, BatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        _options = options ?? new BatcherOptions();
        _options.Validate();
        _decoder = decoder;
        _thread = new Thread(Loop) { IsBackground = true, Name = "tokenformer-batcher" };
        _thread.Start();
    }

    /// <summary>The limits it runs with.</summary>
    public BatcherOptions Options => _options;

    /// <summary>Positions one sequence may span: its prompt plus its generated tokens.</summary>
    public int Context => _decoder.Context;

    /// <summary>A consistent snapshot of the counts.</summary>
    public BatcherStatistics Statistics
    {
        get
        {
            lock (_lock) return new(_submitted, _refused, _finished, _cancelled, _failed, _steps, _rowSteps, _largestStep, _runningCount, _waiting.Count);
        }
    }

    /// <summary>
    /// Queues <paramref name="request"/>; its tokens arrive on the returned stream. Cancelling
    /// <paramref name="cancellationToken"/> removes it from the queue or the batch before the next step.
    /// </summary>
    /// <exception cref="BatcherFullException">The queue holds <see cref="BatcherOptions.QueueCapacity"/> sequences already.</exception>
    /// <exception cref="ArgumentException">The prompt is empty, the maximum is under 1, or both pass the context.</exception>
    /// <exception cref="ObjectDisposedException">The batcher was disposed.</exception>
    public TokenStream Submit(TokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Prompt.Count == 0) throw new ArgumentException("The prompt needs at least one token.", nameof(request));
        ArgumentOutOfRangeException.ThrowIfLessThan(request.MaxTokens, 1, nameof(request));
        if (request.Prompt.Count + request.MaxTokens > Context)
            throw new ArgumentException($"{request.Prompt.Count} prompt and {request.MaxTokens} new tokens pass the context of {Context}.", nameof(request));
        cancellationToken.ThrowIfCancellationRequested();
        var job = new Job(request);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            if (_runningCount + _waiting.Count >= _options.MaxBatch + _options.QueueCapacity)
            {
                _refused++;
                throw new BatcherFullException($"the server is busy: {_runningCount} sequences decoding and {_waiting.Count} waiting (at most {_options.MaxBatch} and {_options.QueueCapacity}); try again later");
            }
            _submitted++;
            job.Node = _waiting.AddLast(job);
            job.Cancellation = cancellationToken.Register(() => Cancel(job, cancellationToken));
        }
        _wake.Release();
        return job.Stream;
    }

    // A waiting job leaves the queue at once; a running one is marked and leaves before the next step.
    private void Cancel(Job job, CancellationToken token)
    {
        lock (_lock)
        {
            job.CancelledBy = token;
            if (job.Node?.List is null) return;
            _waiting.Remove(job.Node);
            _cancelled++;
        }
        job.Stream.Fail(new OperationCanceledException(token));
        job.Cancellation.Dispose();
        _wake.Release();
    }

    private void Loop()
    {
        while (true)
        {
            _wake.Wait();
            while (true)
            {
                lock (_lock)
                {
                    if (_stopping) return;
                    if (_running.Count == 0 && _waiting.Count == 0) break;
                }
                Leave();
                Join();
                Step();
            }
        }
    }

    // Cancelled sequences leave the batch.
    private void Leave()
    {
        foreach (var job in _running.ToList())
        {
            CancellationToken? token;
            lock (_lock) token = job.CancelledBy;
            if (token is { } t) End(job, () => job.Stream.Fail(new OperationCanceledException(t)), ref _cancelled);
        }
    }

    // Waiting sequences join while there is room: their prompts run (together, as the decoder can) and give their first tokens.
    private void Join()
    {
        List<Job> joining = [];
        lock (_lock)
        {
            while (_running.Count < _options.MaxBatch && _waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                _running.Add(first.Value);
                joining.Add(first.Value);
            }
            _runningCount = _running.Count;
        }
        if (joining.Count == 0) return;
        IReadOnlyList<(IDecoderRow Row, float[] Logits)> started;
        try
        {
            started = _decoder.Start([.. joining.Select(j => j.Request.Prompt)]);
        }
        catch (Exception e)
        {
            foreach (var job in joining) End(job, () => job.Stream.Fail(e), ref _failed);
            return;
        }
        for (var i = 0; i < joining.Count; i++)
        {
            joining[i].Row = started[i].Row;
            Take(joining[i], started[i].Logits);
        }
    }

    // One step for every running sequence.
    private void Step()
    {
        if (_running.Count == 0) return;
        var batch = _running.ToList();
        float[] logits;
        try
        {
            logits = _decoder.Step([.. batch.Select(j => j.Row!)], [.. batch.Select(j => j.Last)]);
        }
        catch (Exception e)
        {
            foreach (var job in batch) End(job, () => job.Stream.Fail(e), ref _failed);
            return;
        }
        lock (_lock)
        {
            _steps++;
            _rowSteps += batch.Count;
            _largestStep = Math.Max(_largestStep, batch.Count);
        }
        var width = _decoder.Logits;
        for (var i = 0; i < batch.Count; i++) Take(batch[i], logits.AsSpan(i * width, width));
    }

    // Picks the job's next token from its logits; ends the job at end of text or its maximum.
    private void Take(Job job, ReadOnlySpan<float> logits)
    {
        var token = job.Picker.Pick(logits);
        if (token == job.Request.EndOfText)
        {
            End(job, () => job.Stream.Complete(TokenFinish.EndOfText), ref _finished);
            return;
        }
        job.Last = token;
        job.Generated++;
        job.Stream.Write(token);
        if (job.Generated == job.Request.MaxTokens) End(job, () => job.Stream.Complete(TokenFinish.Length), ref _finished);
    }

    private void End(Job job, Action complete, ref long counter)
    {
        job.Row?.Dispose();
        job.Row = null;
        lock (_lock)
        {
            _running.Remove(job);
            _runningCount = _running.Count;
            counter++;
        }
        job.Cancellation.Dispose();
        complete();
    }

    /// <summary>Stops the decoding thread, fails every sequence still queued or running, and disposes the decoder.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
        }
        _wake.Release();
        _thread.Join();
        var gone = new ObjectDisposedException(nameof(ContinuousBatcher), "The batcher was disposed.");
        List<Job> left;
        lock (_lock)
        {
            left = [.. _waiting, .. _running];
            _waiting.Clear();
        }
        foreach (var job in left) End(job, () => job.Stream.Fail(gone), ref _failed);
        _decoder.Dispose();
        _wake.Dispose();
    }

    private sealed class Job(TokenRequest request)
    {
        public TokenRequest Request { get; } = request;

        public TokenStream Stream { get; } = new();

        public TokenPicker Picker { get; } = new(request.Sampling);

        public LinkedListNode<Job>? Node { get; set; }

        public CancellationTokenRegistration Cancellation { get; set; }

        public CancellationToken? CancelledBy { get; set; }

        public IDecoderRow? Row { get; set; }

        public long Last { get; set; }

        public int Generated { get; set; }
    }
}
