namespace TokenformerGen.Generator.Tests.Infrastructure;

/// <summary>Folders of the source tree (tests read examples and write baselines there, not in bin/).</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Examples => Path.Combine(Root, "examples", "families");

    public static string Schemas => Path.Combine(Root, "schemas");

    public static string Baselines => Path.Combine(Root, "tests", "TokenformerGen.Generator.Tests", "Baselines");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TokenformerGen.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("TokenformerGen.sln not found above " + AppContext.BaseDirectory);
    }
}
