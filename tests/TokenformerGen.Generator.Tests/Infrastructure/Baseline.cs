using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace TokenformerGen.Tests.Infrastructure;

/// <summary>
/// Golden-file snapshots without Verify (shared by the generator's and the runtime's tests): generated files are
/// compared with committed baselines at <c>{folder}/{HintName}.txt</c>. On a mismatch the test fails with a line diff and writes
/// <c>{HintName}.received.txt</c> beside the baseline; set <c>TFG_ACCEPT_BASELINES=1</c> to overwrite the
/// baselines with what was generated (then review the git diff). The set of files is checked too.
/// </summary>
internal static class Baseline
{
    public const string AcceptVariable = "TFG_ACCEPT_BASELINES";

    private static bool Accepting => Environment.GetEnvironmentVariable(AcceptVariable) == "1";

    public static void Match(string folder, IReadOnlyDictionary<string, string> generated)
    {
        Directory.CreateDirectory(folder);
        foreach (var stale in Directory.GetFiles(folder, "*.received.txt"))
        {
            File.Delete(stale);
        }

        var failures = new StringBuilder();
        var expectedFiles = Directory.GetFiles(folder, "*.txt")
            .Select(Path.GetFileName)
            .Select(f => f![..^".txt".Length])
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        var actualFiles = generated.Keys.OrderBy(f => f, StringComparer.Ordinal).ToList();

        if (Accepting)
        {
            foreach (var name in expectedFiles.Except(actualFiles))
            {
                File.Delete(Path.Combine(folder, name + ".txt"));
            }
        }
        else if (!expectedFiles.SequenceEqual(actualFiles))
        {
            failures.AppendLine($"Generated files differ from the baselines in {folder}:");
            failures.AppendLine("  expected: " + string.Join(", ", expectedFiles));
            failures.AppendLine("  actual:   " + string.Join(", ", actualFiles));
        }

        foreach (var (hintName, text) in generated.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var baselinePath = Path.Combine(folder, hintName + ".txt");
            var actual = Normalize(text);
            if (Accepting)
            {
                File.WriteAllText(baselinePath, actual);
                continue;
            }

            var expected = File.Exists(baselinePath) ? Normalize(File.ReadAllText(baselinePath)) : string.Empty;
            if (expected == actual)
            {
                continue;
            }

            var receivedPath = Path.Combine(folder, hintName + ".received.txt");
            File.WriteAllText(receivedPath, actual);
            failures.AppendLine($"{hintName} differs from {baselinePath} (received: {receivedPath}):");
            failures.AppendLine(Diff(expected, actual));
        }

        if (failures.Length > 0)
        {
            failures.AppendLine($"If the change is intended, rerun with {AcceptVariable}=1 and review the baseline diff.");
            Assert.Fail(failures.ToString());
        }
    }

    /// <summary>A unified-style diff of the changed lines with two lines of context.</summary>
    public static string Diff(string expected, string actual)
    {
        var diff = InlineDiffBuilder.Diff(expected, actual, ignoreWhiteSpace: false);
        var lines = diff.Lines;
        var builder = new StringBuilder();
        var lastPrinted = -1;
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i].Type == ChangeType.Unchanged)
            {
                continue;
            }

            for (var j = Math.Max(lastPrinted + 1, i - 2); j <= Math.Min(lines.Count - 1, i + 2); j++)
            {
                if (j > lastPrinted + 1 && lastPrinted >= 0 && j == Math.Max(lastPrinted + 1, i - 2))
                {
                    builder.AppendLine("  ...");
                }

                var prefix = lines[j].Type switch
                {
                    ChangeType.Inserted => "+ ",
                    ChangeType.Deleted => "- ",
                    _ => "  ",
                };
                builder.Append(prefix).Append(lines[j].Position is { } p ? $"{p,4}: " : "      ").AppendLine(lines[j].Text);
                lastPrinted = j;
            }
        }

        return builder.ToString();
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");
}
