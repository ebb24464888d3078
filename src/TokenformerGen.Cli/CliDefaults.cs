namespace TokenformerGen.Cli;

/// <summary>What an application tells the command line about itself: the defaults of its commands.</summary>
public sealed record CliDefaults
{
    /// <summary>The family <c>run</c> uses when <c>--family</c> is not given (null: <c>--family</c> is required).</summary>
    public string? Family { get; init; }

    /// <summary>The text file every command that reads data uses when <c>--data</c> is not given.</summary>
    public string? Corpus { get; init; }

    /// <summary>The name shown in help and usage lines.</summary>
    public string ApplicationName { get; init; } = "tokenformer";

    /// <summary>Where <c>run</c> and <c>train</c> put their folders when <c>--out</c> is not given (relative to the working directory).</summary>
    public string RunsDirectory { get; init; } = "runs";

    /// <summary>
    /// Intra-op threads of training and evaluation when <c>--threads</c> is not given (null: libtorch's default, one
    /// per core). One thread is steadier on a machine whose cores other processes are also using.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>Where tokenized corpora are cached (null: <c>$XDG_CACHE_HOME/tokenformergen</c> or <c>~/.cache/tokenformergen</c>).</summary>
    public string? CacheDirectory { get; init; }
}
