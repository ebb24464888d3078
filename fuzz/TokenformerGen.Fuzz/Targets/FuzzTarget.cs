using System.Diagnostics;

namespace TokenformerGen.Fuzz;

/// <summary>How a reader took one input: accepted (with the bytes of the tensors it made), or refused with its message.</summary>
/// <param name="Refusal">The documented refusal's message, or null when the input was accepted.</param>
/// <param name="TensorBytes">Bytes of the tensors the reader created and handed back (native memory), 0 when none.</param>
public readonly record struct Outcome(string? Refusal, long TensorBytes)
{
    /// <summary>An accepted input.</summary>
    public static Outcome Accepted(long tensorBytes = 0) => new(null, tensorBytes);

    /// <summary>A refused input, with the refusal's message.</summary>
    public static Outcome Refused(string message) => new(message, 0);
}

/// <summary>
/// An input that broke a stated limit: too much memory, too long, or a refusal that does not say which file it is
/// about. Thrown by <see cref="FuzzTarget.Check"/> so that AFL records it as a crash, like an undocumented exception.
/// </summary>
public sealed class BoundViolationException(string message) : Exception(message);

/// <summary>
/// One fuzz target: bytes in, the public entry point a user's command calls, and only the reader's documented refusal
/// counted as a success. <see cref="Check"/> also holds every run to the stated bounds (docs/reliability.md).
/// </summary>
/// <param name="Name">The target's name (fuzz/corpus/NAME, fuzz/regressions/NAME).</param>
/// <param name="Run">Runs one input; a scratch folder of its own is given for the files the reader opens.</param>
/// <param name="ManagedFactor">Managed bytes allowed per input byte, on top of <see cref="FuzzLimits.ManagedAllowance"/>.</param>
/// <param name="TensorFactor">Tensor bytes allowed per input byte.</param>
public sealed record FuzzTarget(string Name, Func<byte[], string, Outcome> Run, long ManagedFactor, long TensorFactor)
{
    /// <summary>
    /// Runs <paramref name="input"/> once without holding it to any bound or caring how it ends, so that the checked
    /// runs after it do not pay for JIT, static initialisation or loading the native torch library (over a second on
    /// this machine, which would otherwise read as a hang on the first input of every process).
    /// </summary>
    public void Warm(byte[] input, string scratch)
    {
        Directory.CreateDirectory(scratch);
        try
        {
            Run(input, scratch);
        }
        catch (Exception)
        {
            // Not judged here: the checked run of the same input reports it.
        }
    }

    /// <summary>The managed allocation allowed for an input of <paramref name="inputBytes"/> bytes.</summary>
    public long ManagedBound(long inputBytes) => FuzzLimits.ManagedAllowance + ManagedFactor * inputBytes;

    /// <summary>
    /// Runs <paramref name="input"/> and checks it against the bounds: managed allocation (measured around the call on
    /// this thread), tensor bytes handed back, wall time for inputs up to <see cref="FuzzLimits.TimedInputBytes"/> (a slow
    /// call is timed twice and the faster counts), and a refusal
    /// message that names the file (the scratch folder's path appears in it).
    /// </summary>
    /// <param name="input">The input.</param>
    /// <param name="scratch">A folder the target may write in.</param>
    /// <param name="timed">False to leave wall time unjudged: a replay in the test suite runs beside any other work, so
    /// its speed says nothing of the reader (a true hang still never returns); the fuzzer judges time.</param>
    /// <exception cref="BoundViolationException">A bound was broken.</exception>
    /// <returns>The outcome and what was measured.</returns>
    public Measured Check(byte[] input, string scratch, bool timed = true)
    {
        Directory.CreateDirectory(scratch);
        var measured = Measure(input, scratch);
        var judgeTime = timed && input.Length <= FuzzLimits.TimedInputBytes;
        // A hang repeats; a moment of load on a shared machine does not: a slow call is timed once more, and the faster counts.
        if (judgeTime && measured.Elapsed > FuzzLimits.TimeLimit)
        {
            var again = Measure(input, scratch);
            if (again.Elapsed < measured.Elapsed) measured = measured with { Elapsed = again.Elapsed };
        }
        var (outcome, allocated, elapsed) = measured;
        if (allocated > ManagedBound(input.Length))
            throw new BoundViolationException($"{Name}: {allocated:N0} managed bytes allocated for a {input.Length:N0}-byte input; the bound is {ManagedBound(input.Length):N0}");
        if (outcome.TensorBytes > TensorFactor * input.Length)
            throw new BoundViolationException($"{Name}: {outcome.TensorBytes:N0} tensor bytes made from a {input.Length:N0}-byte input; the bound is {TensorFactor}× the input");
        if (judgeTime && elapsed > FuzzLimits.TimeLimit)
            throw new BoundViolationException($"{Name}: {elapsed.TotalMilliseconds:F0} ms for a {input.Length:N0}-byte input; the limit is {FuzzLimits.TimeLimit.TotalMilliseconds:F0} ms");
        if (outcome.Refusal is { } message && !message.Contains(scratch, StringComparison.Ordinal))
            throw new BoundViolationException($"{Name}: the refusal does not name the file: {message}");
        return measured;
    }

    // Managed bytes are counted on the calling thread (the readers use no other), so that tests running beside it in
    // the same process do not count; everything allocated, which bounds the peak from above.
    private Measured Measure(byte[] input, string scratch)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var outcome = Run(input, scratch);
        clock.Stop();
        return new Measured(outcome, GC.GetAllocatedBytesForCurrentThread() - before, clock.Elapsed);
    }
}

/// <summary>What one checked run measured.</summary>
/// <param name="Outcome">How the reader took the input.</param>
/// <param name="ManagedBytes">Managed bytes allocated during the call on the calling thread.</param>
/// <param name="Elapsed">Wall time of the call.</param>
public readonly record struct Measured(Outcome Outcome, long ManagedBytes, TimeSpan Elapsed);

/// <summary>The stated limits every target is held to (docs/reliability.md states the same numbers).</summary>
public static class FuzzLimits
{
    /// <summary>Managed bytes every call may allocate whatever its size (buffers, first-use caches of the runtime).</summary>
    public const long ManagedAllowance = 8L << 20;

    /// <summary>Inputs up to this size must finish within <see cref="TimeLimit"/>.</summary>
    public const int TimedInputBytes = 1 << 20;

    /// <summary>The longest a call on an input of at most <see cref="TimedInputBytes"/> may take.</summary>
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(1);
}
