namespace TokenformerGen.Benchmarks.Harness;

/// <summary>Resident memory of this process from <c>/proc/self/status</c> (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>Current resident set (VmRSS), bytes.</summary>
    public static long Resident() => Read("VmRSS:");

    /// <summary>Peak resident set since start or the last <see cref="ResetPeak"/> (VmHWM), bytes.</summary>
    public static long Peak() => Read("VmHWM:");

    /// <summary>Resets VmHWM to the current RSS (writes 5 to /proc/self/clear_refs); false where not allowed.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Minor page faults of this process so far (field 10 of <c>/proc/self/stat</c>): each one a page the kernel mapped and zeroed.</summary>
    public static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);   // fields after "(comm)" start at field 3
    }

    private static long Read(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        return -1;
    }
}
