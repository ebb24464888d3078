namespace TokenformerGen.OnnxRuntime;

/// <summary>
/// How a conversation becomes a prompt for a base model, which knows no chat template: one line per message,
/// <c>role: content</c>, then <c>assistant:</c> for the model to continue. The reply ends where the model starts a
/// line of its own for another turn (<see cref="Stops"/>), at end of text, or at its token limit.
/// </summary>
/// <example>
/// <code>
/// system: You answer in one line.
/// user: Who begat Enos?
/// assistant:
/// </code>
/// </example>
public static class ChatPrompt
{
    /// <summary>The roles a message may have.</summary>
    public static IReadOnlyList<string> Roles { get; } = ["system", "developer", "user", "assistant"];

    /// <summary>Where a reply ends: a line break followed by a role's marker.</summary>
    public static IReadOnlyList<string> Stops { get; } = [.. Roles.Select(role => $"\n{role}:")];

    /// <summary>The prompt for <paramref name="messages"/>, each a role of <see cref="Roles"/> and its text.</summary>
    /// <exception cref="Batching.TextRequestException">A role is not one of <see cref="Roles"/> (the field: <c>messages</c>).</exception>
    public static string Format(IEnumerable<(string Role, string Content)> messages)
    {
        var prompt = new System.Text.StringBuilder();
        foreach (var (role, content) in messages)
        {
            if (!Roles.Contains(role)) throw new Batching.TextRequestException(nameof(messages), $"unknown role '{role}' (one of {string.Join(", ", Roles)})");
            prompt.Append(role).Append(": ").Append(content).Append('\n');
        }
        return prompt.Append("assistant:").ToString();
    }
}
