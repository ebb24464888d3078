using SharpFuzz;
using TokenformerGen.Fuzz;

// fuzz/run.sh drives this host:
//   afl TARGET [WARM]             the SharpFuzz fork server loop for afl-fuzz (stdin input, in-process persistent runs),
//                                 after one unchecked run of each file in folder WARM (JIT, libtorch) so no first input reads as a hang
//   replay TARGET PATH...         every file (folders: their files) through the target in-process, checked against the bounds
//   seed REPOSITORY CORPUS        writes each target's seed corpus with the library's own writers
var targets = ReaderTargets.All.Append(SpecTarget.Spec).ToDictionary(t => t.Name, StringComparer.Ordinal);
string Usage() => $"usage: afl TARGET [WARM] | replay TARGET PATH... | seed REPOSITORY CORPUS   (targets: {string.Join(", ", targets.Keys)})";

if (args.Length >= 3 && args[0] == "seed")
{
    Seeds.Write(args[1], args[2]);
    return 0;
}
if (args.Length < 2 || !targets.TryGetValue(args[1], out var target))
{
    Console.Error.WriteLine(Usage());
    return 2;
}
var scratchRoot = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
var scratch = Path.Combine(scratchRoot, $"tfg-fuzz-{target.Name}-{Environment.ProcessId}");
try
{
    switch (args[0])
    {
        case "afl":
            if (args.Length >= 3 && Directory.Exists(args[2]))
                AflWarmUp.Run(target, Directory.GetFiles(args[2]).Order(StringComparer.Ordinal), scratch);
            Fuzzer.Run(stream =>
            {
                using var input = new MemoryStream();
                stream.CopyTo(input);
                target.Check(input.ToArray(), scratch);
            });
            return 0;
        case "replay":
            return Replay.Run(target, args.Skip(2), scratch);
        default:
            Console.Error.WriteLine(Usage());
            return 2;
    }
}
finally
{
    if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
}
