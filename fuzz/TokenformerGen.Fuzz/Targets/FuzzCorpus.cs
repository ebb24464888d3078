namespace TokenformerGen.Fuzz;

/// <summary>A committed input of a target: a seed or fuzzer-found corpus file, or a regression with its expected refusal.</summary>
/// <param name="Target">The target's name.</param>
/// <param name="Path">The file.</param>
/// <param name="ExpectedRefusal">For a regression, text its refusal must contain (fuzz/regressions/expected.tsv); null for a corpus file.</param>
public sealed record FuzzInput(string Target, string Path, string? ExpectedRefusal)
{
    /// <summary>The path from the repository root, for test names.</summary>
    public override string ToString() => System.IO.Path.GetRelativePath(FuzzCorpus.Repository, Path);
}

/// <summary>The committed inputs under <c>fuzz/corpus/TARGET</c> and <c>fuzz/regressions/TARGET</c>, which the tests replay.</summary>
public static class FuzzCorpus
{
    /// <summary>The repository root (the folder holding TokenformerGen.sln above the running assembly).</summary>
    public static string Repository { get; } = FindRepository();

    /// <summary>Every committed input of <paramref name="target"/>; a regression without an expected refusal is an error.</summary>
    /// <exception cref="InvalidDataException">A regression file that expected.tsv does not list, or a listed file that is missing.</exception>
    public static IReadOnlyList<FuzzInput> Inputs(string target)
    {
        var inputs = Files(Path.Combine(Repository, "fuzz", "corpus", target)).Select(f => new FuzzInput(target, f, null)).ToList();
        var expected = Expected().Where(e => e.Key.StartsWith(target + "/", StringComparison.Ordinal)).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        foreach (var file in Files(Path.Combine(Repository, "fuzz", "regressions", target)))
        {
            var key = $"{target}/{Path.GetFileName(file)}";
            inputs.Add(new FuzzInput(target, file, expected.Remove(key, out var refusal) ? refusal : throw new InvalidDataException($"fuzz/regressions/{key} is not listed in fuzz/regressions/expected.tsv")));
        }
        if (expected.Count > 0) throw new InvalidDataException($"fuzz/regressions/expected.tsv lists missing files: {string.Join(", ", expected.Keys)}");
        return inputs;
    }

    private static IEnumerable<string> Files(string folder) =>
        Directory.Exists(folder) ? Directory.GetFiles(folder).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal) : [];

    // expected.tsv: TARGET/FILE, a tab, the text the refusal must contain; '#' lines are comments.
    private static IEnumerable<KeyValuePair<string, string>> Expected()
    {
        var path = Path.Combine(Repository, "fuzz", "regressions", "expected.tsv");
        if (!File.Exists(path)) yield break;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var tab = line.IndexOf('\t');
            if (tab < 0) throw new InvalidDataException($"{path}: '{line}' has no tab between the file and its expected refusal");
            yield return new(line[..tab], line[(tab + 1)..]);
        }
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TokenformerGen.sln"))) return dir.FullName;
        throw new InvalidOperationException("TokenformerGen.sln not found above " + AppContext.BaseDirectory);
    }
}
