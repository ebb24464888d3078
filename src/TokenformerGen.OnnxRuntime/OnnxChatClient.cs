using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using TokenformerGen.OnnxRuntime.Batching;

namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// <see cref="IChatClient"/> (Microsoft.Extensions.AI) over an exported Tokenformer: the conversation becomes a plain
/// prompt (<see cref="ChatPrompt"/>), and concurrent calls are decoded together by the generator's batcher.
/// <see cref="ChatOptions.MaxOutputTokens"/>, <see cref="ChatOptions.Temperature"/>, <see cref="ChatOptions.TopK"/>,
/// <see cref="ChatOptions.Seed"/>, <see cref="ChatOptions.StopSequences"/> and <see cref="ChatOptions.Instructions"/>
/// apply; other options, tools among them, are not used by a base model and are left alone.
/// </summary>
public sealed class OnnxChatClient : IChatClient
{
    private readonly BatchedTextGenerator _generator;
    private readonly bool _ownsGenerator;

    /// <summary>A client of <paramref name="generator"/>, which stays the caller's (an HTTP server may share it).</summary>
    public OnnxChatClient(BatchedTextGenerator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        Metadata = new ChatClientMetadata("tokenformergen-onnx", null, generator.ModelId);
    }

    /// <summary>Loads the export in <paramref name="folder"/> and serves it alone; the client owns the model.</summary>
    /// <param name="folder">A folder written by <c>export --onnx</c>.</param>
    /// <param name="options">Batch and queue limits.</param>
    /// <param name="threads">ONNX Runtime's intra-op threads (null: one per core).</param>
    public OnnxChatClient(string folder, BatcherOptions? options = null, int? threads = null)
        : this(new BatchedTextGenerator(OnnxTokenformer.Load(folder, threads), options: options))
    {
        _ownsGenerator = true;
    }

    /// <summary>Provider <c>tokenformergen-onnx</c> and the model's id.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <inheritdoc/>
    /// <exception cref="TextRequestException">A role is unknown, or the prompt or an option does not fit the model.</exception>
    /// <exception cref="BatcherFullException">The batch and its queue are full.</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var generation = Start(messages, options, cancellationToken);
        var text = new System.Text.StringBuilder();
        await foreach (var piece in generation.ReadAsync(cancellationToken).ConfigureAwait(false)) text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = _generator.ModelId,
            FinishReason = Finish(generation),
            Usage = Usage(generation),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    /// <inheritdoc/>
    /// <remarks>One update per text piece as tokens arrive, then a last one with the finish reason and the token counts.</remarks>
    /// <exception cref="TextRequestException">A role is unknown, or the prompt or an option does not fit the model.</exception>
    /// <exception cref="BatcherFullException">The batch and its queue are full.</exception>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
                                                                                [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var generation = Start(messages, options, cancellationToken);
        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents) { ResponseId = id, MessageId = id, ModelId = _generator.ModelId, CreatedAt = DateTimeOffset.UtcNow };
        await foreach (var piece in generation.ReadAsync(cancellationToken).ConfigureAwait(false)) yield return Update([new TextContent(piece)]);
        var last = Update([new UsageContent(Usage(generation))]);
        last.FinishReason = Finish(generation);
        yield return last;
    }

    private TextGeneration Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = messages.Select(m => (m.Role.Value, m.Text)).ToList();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Insert(0, (ChatRole.System.Value, instructions));
        var request = new TextRequest(options?.MaxOutputTokens, options?.Temperature ?? 1.0, options?.TopK ?? 0, options?.Seed, options?.StopSequences?.ToList());
        return _generator.StartChat(turns, request, cancellationToken);
    }

    private static ChatFinishReason Finish(TextGeneration generation) => generation.FinishReason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(TextGeneration generation) => new()
    {
        InputTokenCount = generation.PromptTokens,
        OutputTokenCount = generation.CompletionTokens,
        TotalTokenCount = generation.PromptTokens + generation.CompletionTokens,
    };

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return Metadata;
        if (serviceType == typeof(BatchedTextGenerator)) return _generator;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Frees the model when the client loaded it; a shared generator stays open.</summary>
    public void Dispose()
    {
        if (_ownsGenerator) _generator.Dispose();
    }
}
