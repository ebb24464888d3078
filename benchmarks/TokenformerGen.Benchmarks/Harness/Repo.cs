namespace TokenformerGen.Benchmarks.Harness;

/// <summary>Folders of the source tree (the examples and the corpus are read from there).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string ExampleFamilies => Path.Combine(Root, "examples", "families");

    public static string Corpus => Path.Combine(Root, "examples", "data", "kjv.txt.gz");

    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TokenformerGen.sln"))) return dir.FullName;
            }
        }
        throw new InvalidOperationException("TokenformerGen.sln not found above " + AppContext.BaseDirectory);
    }
}
