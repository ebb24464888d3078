using TokenformerGen.Cli;

namespace TokenformerGen.Cli.Tests;

/// <summary>
/// The test assembly as a CLI host over the test families (Mini, Solo), for tests that need a separate
/// process: <c>dotnet exec TokenformerGen.Cli.Tests.dll train …</c>. The test runner never calls this.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => TokenformerCli.Run(args, new CliDefaults { ApplicationName = "cli-tests", Family = "Mini" });
}
