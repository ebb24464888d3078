using System.Runtime.InteropServices;
using SharpFuzz.Common;

namespace TokenformerGen.Fuzz;

/// <summary>
/// Runs the seeds once before the fork server starts, so that the first input afl-fuzz times does not pay for JIT
/// and loading libtorch (over a second here, which afl-fuzz and <see cref="FuzzTarget.Check"/> would call a hang).
/// The instrumented assemblies write every branch into <see cref="Trace.SharedMem"/>, which is null until
/// <c>Fuzzer.Run</c> maps AFL's bitmap; until then it points at a scratch map of AFL's size, freed afterwards.
/// </summary>
internal static unsafe class AflWarmUp
{
    private const int MapSize = 1 << 16;   // the instrumentation's branch ids are 16-bit

    public static void Run(FuzzTarget target, IEnumerable<string> files, string scratch)
    {
        var map = (byte*)NativeMemory.AllocZeroed(MapSize);
        var previous = Trace.SharedMem;
        Trace.SharedMem = map;
        try
        {
            foreach (var file in files) target.Warm(File.ReadAllBytes(file), scratch);
        }
        finally
        {
            Trace.SharedMem = previous;
            Trace.PrevLocation = 0;
            NativeMemory.Free(map);
        }
    }
}
