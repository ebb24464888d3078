using System.Runtime.InteropServices;

namespace TokenformerGen.Devices;

/// <summary>
/// How host (CPU) memory is allocated for tensors. glibc's malloc serves every block above 32 MB with a fresh
/// <c>mmap</c> and returns it to the system when freed, so each training step of a model with a large table pays the
/// kernel to map and zero its gradients, casts and logits again: on the 150M shape, a third of a CPU step went to page
/// faults (docs/benchmarks.md, figure 11). <see cref="ReuseFreedBlocks"/> makes glibc keep freed blocks for reuse instead,
/// as the caching allocator does for GPU memory and as PyTorch's CPU tuning guide gets by preloading jemalloc.
/// </summary>
public static class HostMemory
{
    /// <summary>The environment variable that keeps glibc's default behaviour when set to <c>system</c>.</summary>
    public const string OptOutVariable = "TOKENFORMERGEN_HOST_ALLOCATOR";

    private static readonly Lazy<string> Outcome = new(Configure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Makes glibc serve large blocks from its heap and keep freed memory mapped, once per process (later calls do
    /// nothing). The process's resident memory then stays at its peak instead of shrinking between steps. Does nothing
    /// off Linux, on a C library other than glibc, or when <see cref="OptOutVariable"/> is <c>system</c>.
    /// </summary>
    /// <returns>What was done, for logs: <c>reuse</c>, or why not.</returns>
    public static string ReuseFreedBlocks() => Outcome.Value;

    private static string Configure()
    {
        if (!OperatingSystem.IsLinux()) return "system (not Linux)";
        if (string.Equals(Environment.GetEnvironmentVariable(OptOutVariable), "system", StringComparison.OrdinalIgnoreCase))
            return $"system ({OptOutVariable}=system)";
        try
        {
            // Never return the heap's top to the system, then stop serving blocks by mmap: blocks freed go back to the
            // heap and the next step's blocks of the same sizes reuse them without a page fault. In this order, no
            // moment exists where big blocks come from the heap but are trimmed away when freed.
            var trimmed = mallopt(TrimThreshold, -1) == 1;   // -1: never trim (mallopt(3))
            var unmapped = mallopt(MmapMax, 0) == 1;
            return trimmed && unmapped ? "reuse" : "system (mallopt refused)";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return "system (no glibc mallopt)";
        }
    }

    private const int TrimThreshold = -1;   // M_TRIM_THRESHOLD
    private const int MmapMax = -4;         // M_MMAP_MAX

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
