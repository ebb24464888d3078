namespace TokenformerGen.Checkpoints;

/// <summary>
/// A well-formed checkpoint that does not fit what it is loaded into: missing, unexpected, misshapen
/// or wrongly typed tensors, or metadata (family, stage, pairing) that differs from the expected.
/// Every problem is listed at once, one line each.
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Creates the exception from the file path and every problem found.</summary>
    /// <param name="filePath">The checkpoint file.</param>
    /// <param name="problems">One line per problem; at least one.</param>
    public CheckpointMismatchException(string filePath, IReadOnlyList<string> problems)
        : base(Compose(filePath, problems))
    {
        FilePath = filePath;
        Problems = problems;
    }

    /// <summary>The checkpoint file.</summary>
    public string FilePath { get; }

    /// <summary>Every problem found, one line each.</summary>
    public IReadOnlyList<string> Problems { get; }

    private static string Compose(string filePath, IReadOnlyList<string> problems)
        => $"{filePath} does not match ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):"
           + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  " + p));
}
