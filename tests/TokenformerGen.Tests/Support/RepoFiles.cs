namespace TokenformerGen.Tests.Support;

/// <summary>Files of the repository the tests read, found above the test assembly's folder.</summary>
internal static class RepoFiles
{
    /// <summary>The path of <paramref name="relative"/> (a file or folder below the repository's root).</summary>
    public static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
