namespace TokenformerGen.Fuzz;

/// <summary>Replays files through a target in-process and prints what each did and the worst figures seen.</summary>
internal static class Replay
{
    public static int Run(FuzzTarget target, IEnumerable<string> paths, string scratch)
    {
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p, "*", SearchOption.AllDirectories) : [p])
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith("README.txt", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        int accepted = 0, refused = 0, failed = 0;
        double worstRatio = 0;
        var slowest = TimeSpan.Zero;
        foreach (var file in files)
        {
            var input = File.ReadAllBytes(file);
            try
            {
                target.Warm(input, scratch);   // the first call of a path pays JIT, static initialisation and native loading
                var m = target.Check(input, scratch);
                if (m.Outcome.Refusal is null) accepted++; else refused++;
                worstRatio = Math.Max(worstRatio, (double)m.ManagedBytes / Math.Max(1, input.Length));
                if (m.Elapsed > slowest) slowest = m.Elapsed;
                Console.WriteLine($"{(m.Outcome.Refusal is null ? "accepted" : "refused ")} {m.Elapsed.TotalMilliseconds,8:F1} ms {m.ManagedBytes,12:N0} B {input.Length,9:N0} in  {file}");
                if (m.Outcome.Refusal is { } why) Console.WriteLine($"         {why.Split('\n')[0]}");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"FAILED   {file}: {e.GetType().Name}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        Console.WriteLine($"{target.Name}: {files.Count} files, {accepted} accepted, {refused} refused, {failed} failed; " +
                          $"worst managed bytes per input byte {worstRatio:F1}, slowest {slowest.TotalMilliseconds:F1} ms");
        return failed == 0 ? 0 : 1;
    }
}
