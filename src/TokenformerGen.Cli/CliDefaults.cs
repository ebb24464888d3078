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

    /// <summary>
    /// Reads how busy the machine is: the 1-minute load average, or null where unknown (default: Linux's
    /// <c>/proc/loadavg</c>). Commands that pick a thread count warn on standard error when it is above the threads they use.
    /// </summary>
    public Func<double?> LoadAverage { get; init; } = MachineLoad.OneMinuteAverage;

    /// <summary>The CPU that <c>--precision auto</c> and the bf16 warning judge (null: this machine's).</summary>
    public Devices.CpuFeatures? Cpu { get; init; }
}

/// <summary>How busy this machine is.</summary>
public static class MachineLoad
{
    /// <summary>The 1-minute load average (Linux), or null where unknown.</summary>
    public static double? OneMinuteAverage()
    {
        try
        {
            var text = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg") : null;
            return text is not null && double.TryParse(text.Split(' ')[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var load) ? load : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
