namespace TokenformerGen.Checkpoints;

/// <summary>
/// A checkpoint file that is not what it claims to be: truncated, corrupt, a header that lies about
/// sizes, an unknown dtype, or a layout this library does not write. The message names the file, the
/// tensor (when one is at fault) and the numbers that disagree.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception; the message is prefixed with the file path and tensor name.</summary>
    /// <param name="filePath">The file being read or written.</param>
    /// <param name="tensorName">The tensor at fault, or null when the problem is not tied to one tensor.</param>
    /// <param name="problem">What is wrong, with the numbers involved.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public CheckpointFormatException(string filePath, string? tensorName, string problem, Exception? inner = null)
        : base(Compose(filePath, tensorName, problem), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Problem = problem;
    }

    /// <summary>The file being read or written.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or null.</summary>
    public string? TensorName { get; }

    /// <summary>The problem, without the file and tensor prefix.</summary>
    public string Problem { get; }

    private static string Compose(string filePath, string? tensorName, string problem)
        => tensorName is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensorName}': {problem}";
}
