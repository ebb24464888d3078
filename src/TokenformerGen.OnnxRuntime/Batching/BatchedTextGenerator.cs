using System.Runtime.CompilerServices;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Inference;

namespace TokenformerGen.OnnxRuntime.Batching;

/// <summary>How to continue one prompt. Checked by <see cref="BatchedTextGenerator.Start"/> against the model's limits.</summary>
/// <param name="MaxTokens">Tokens to generate at most; null: as many as the context leaves after the prompt, up to the generator's maximum.</param>
/// <param name="Temperature">Softmax temperature, at least 0 (0: always the most likely token).</param>
/// <param name="TopK">Sample among the k most likely tokens (0: all); not negative.</param>
/// <param name="Seed">Seed of this request's sampler; null draws one.</param>
/// <param name="Stop">Up to four texts that end the reply where the first of them appears (not included).</param>
/// <param name="IgnoreEndOfText">Keep generating past the tokenizer's end-of-text id instead of stopping there.</param>
public sealed record TextRequest(int? MaxTokens = null, double Temperature = 1.0, int TopK = 0, long? Seed = null, IReadOnlyList<string>? Stop = null, bool IgnoreEndOfText = false);

/// <summary>A request the model cannot serve as asked; <see cref="ArgumentException.ParamName"/> names the field (OpenAI's spelling).</summary>
public sealed class TextRequestException(string parameter, string message) : ArgumentException(message, parameter)
{
    /// <summary>What is wrong, without the field's name appended.</summary>
    public override string Message { get; } = message;
}

/// <summary>
/// Text in, text out over a <see cref="ContinuousBatcher"/>: encodes prompts, checks requests against the context,
/// and streams each reply as text pieces with its stop sequences applied. Shared by every concurrent caller; the HTTP
/// server and <see cref="OnnxChatClient"/> both sit on it.
/// </summary>
public sealed class BatchedTextGenerator : IDisposable
{
    /// <summary>Stop sequences a request may give at most (OpenAI's limit).</summary>
    public const int MaxStops = 4;

    private readonly IDisposable? _model;   // the model this generator was given to own, if any

    /// <summary>
    /// Serves <paramref name="model"/> (the generator owns it from now on) under the id <paramref name="modelId"/>, by
    /// default its card's <c>Family/Stage</c>.
    /// </summary>
    public BatchedTextGenerator(OnnxTokenformer model, string? modelId = null, BatcherOptions? options = null, int? maxTokens = null)
        : this(new OrtBatchDecoder(model), model.Tokenizer, modelId ?? $"{model.Card.Family}/{model.Card.Stage}", options, maxTokens)
    {
        _model = model;
    }

    /// <summary>Serves any <see cref="IBatchDecoder"/> whose ids <paramref name="tokenizer"/> reads.</summary>
    /// <param name="decoder">The decoder; the generator owns it.</param>
    /// <param name="tokenizer">Encodes prompts and decodes replies.</param>
    /// <param name="modelId">The name requests use for the model.</param>
    /// <param name="options">Batch and queue limits.</param>
    /// <param name="maxTokens">Most tokens one request may generate (null: the context).</param>
    public BatchedTextGenerator(IBatchDecoder decoder, ITextTokenizer tokenizer, string modelId, BatcherOptions? options = null, int? maxTokens = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        if (maxTokens is < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "At least 1 token.");
        Tokenizer = tokenizer;
        ModelId = modelId;
        Batcher = new ContinuousBatcher(decoder, options);
        MaxTokens = Math.Min(maxTokens ?? int.MaxValue, Batcher.Context - 1);
    }

    /// <summary>The model's name in requests and replies.</summary>
    public string ModelId { get; }

    /// <summary>The tokenizer of prompts and replies.</summary>
    public ITextTokenizer Tokenizer { get; }

    /// <summary>The batcher decoding every request.</summary>
    public ContinuousBatcher Batcher { get; }

    /// <summary>Positions a prompt and its reply share.</summary>
    public int Context => Batcher.Context;

    /// <summary>Most tokens one request may generate.</summary>
    public int MaxTokens { get; }

    /// <summary>
    /// Encodes <paramref name="prompt"/>, checks <paramref name="request"/> and queues it. Read the reply from the
    /// returned generation; cancelling <paramref name="cancellationToken"/> or abandoning the reading ends its decoding.
    /// </summary>
    /// <param name="prompt">The text to continue.</param>
    /// <param name="request">Limits and sampling.</param>
    /// <param name="cancellationToken">Ends the request.</param>
    /// <exception cref="TextRequestException">The prompt or an option does not fit the model.</exception>
    /// <exception cref="BatcherFullException">The batch and its queue are full.</exception>
    public TextGeneration Start(string prompt, TextRequest request, CancellationToken cancellationToken = default)
        => Queue(prompt, request, "prompt", cancellationToken, []);

    private TextGeneration Queue(string prompt, TextRequest request, string promptParameter, CancellationToken cancellationToken, IReadOnlyList<string> formatStops)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(request);
        var ids = Tokenizer.Encode(prompt).Select(id => (long)id).ToList();
        if (ids.Count == 0) throw new TextRequestException(promptParameter, "the prompt is empty: give some text to continue");
        if (ids.Count >= Context)
            throw new TextRequestException(promptParameter, $"the prompt is {ids.Count} tokens; the model's context of {Context} must hold it and at least one new token");
        var room = Math.Min(Context - ids.Count, MaxTokens);
        var maxTokens = request.MaxTokens ?? room;
        if (maxTokens < 1) throw new TextRequestException("max_tokens", $"max_tokens is {maxTokens}; give at least 1");
        if (maxTokens > room)
        {
            throw new TextRequestException("max_tokens", maxTokens > MaxTokens
                ? $"max_tokens {maxTokens} is more than this server's limit of {MaxTokens}"
                : $"max_tokens {maxTokens} and the prompt's {ids.Count} tokens pass the model's context of {Context}; at most {room} here");
        }
        if (!double.IsFinite(request.Temperature) || request.Temperature < 0)
            throw new TextRequestException("temperature", $"temperature {request.Temperature} must be a number of at least 0");
        if (request.TopK < 0) throw new TextRequestException("top_k", $"top_k {request.TopK} must not be negative (0: all tokens)");
        var stops = request.Stop ?? [];
        if (stops.Count > MaxStops) throw new TextRequestException("stop", $"{stops.Count} stop sequences; at most {MaxStops}");
        if (stops.Any(string.IsNullOrEmpty)) throw new TextRequestException("stop", "a stop sequence is empty");

        var sampling = new SamplingOptions(request.Temperature, request.TopK, request.Seed ?? Random.Shared.NextInt64(), UseCache: true, Tokenizer.VocabularySize);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            var endOfText = request.IgnoreEndOfText ? null : (long?)Tokenizer.EndOfText;
            var stream = Batcher.Submit(new TokenRequest(ids, maxTokens, sampling, endOfText), linked.Token);
            return new TextGeneration(stream, new IncrementalText(Tokenizer, [.. stops, .. formatStops]), ids.Count, linked);
        }
        catch
        {
            linked.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="Start"/> for a conversation: <paramref name="messages"/> (role, text) become a prompt by
    /// <see cref="ChatPrompt.Format"/>, and the reply also ends where the model begins another turn.
    /// </summary>
    /// <exception cref="TextRequestException">A role is unknown, or the prompt or an option does not fit the model.</exception>
    /// <exception cref="BatcherFullException">The batch and its queue are full.</exception>
    public TextGeneration StartChat(IEnumerable<(string Role, string Content)> messages, TextRequest request, CancellationToken cancellationToken = default)
    {
        return Queue(ChatPrompt.Format(messages), request, "messages", cancellationToken, ChatPrompt.Stops);
    }

    /// <summary>Stops decoding (requests still running fail) and frees the model.</summary>
    public void Dispose()
    {
        Batcher.Dispose();
        _model?.Dispose();
    }
}

/// <summary>One reply being generated: read its text once with <see cref="ReadAsync"/>; the counts and reason follow it.</summary>
public sealed class TextGeneration
{
    private readonly TokenStream _stream;
    private readonly IncrementalText _text;
    private readonly CancellationTokenSource _cancellation;

    internal TextGeneration(TokenStream stream, IncrementalText text, int promptTokens, CancellationTokenSource cancellation)
    {
        _stream = stream;
        _text = text;
        _cancellation = cancellation;
        PromptTokens = promptTokens;
    }

    /// <summary>Tokens of the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>Tokens generated so far (a stop sequence's tokens included).</summary>
    public int CompletionTokens { get; private set; }

    /// <summary>OpenAI's finish reason once the text is read: <c>stop</c> (a stop sequence or end of text) or <c>length</c>.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>
    /// The reply in pieces as its tokens arrive. Ends at a stop sequence, end of text or the token limit; leaving the
    /// loop early, or cancelling, ends the decoding.
    /// </summary>
    /// <exception cref="OperationCanceledException">The request was cancelled.</exception>
    public async IAsyncEnumerable<string> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (var token in _stream.Tokens.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                CompletionTokens++;
                var piece = _text.Add(token);
                if (piece.Length > 0) yield return piece;
                if (_text.Stopped)
                {
                    FinishReason = "stop";
                    yield break;
                }
            }
            var rest = _text.Flush();
            if (rest.Length > 0) yield return rest;
            FinishReason = _stream.Finish == TokenFinish.Length ? "length" : "stop";
        }
        finally
        {
            _cancellation.Cancel();   // a no-op for a finished sequence; otherwise it leaves the batch
            _cancellation.Dispose();
        }
    }
}
