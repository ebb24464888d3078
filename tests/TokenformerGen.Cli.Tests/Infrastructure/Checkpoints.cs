namespace TokenformerGen.Cli.Tests.Infrastructure;

/// <summary>Checkpoints of the Mini family made once through the CLI and shared by the tests that only read them.</summary>
public static class MiniCheckpoints
{
    private static readonly Lazy<(string Small, string Large)> Made = new(Make);

    /// <summary>Mini/Small after a few training steps.</summary>
    public static string Small => Made.Value.Small;

    /// <summary>Mini/Large grown from <see cref="Small"/> with zero_keys.</summary>
    public static string Large => Made.Value.Large;

    private static (string, string) Make()
    {
        var directory = TestData.NewDirectory("shared-checkpoints");
        var run = Path.Combine(directory, "small-run");
        TestCli.Ok("train", "--family", "Mini", "--stage", "Small", "--steps", "6", "--out", run);
        var small = Path.Combine(directory, "small.safetensors");
        File.Copy(TokenformerGen.Training.TrainingCheckpoints.Latest(run)!, small);
        var large = Path.Combine(directory, "large.safetensors");
        TestCli.Ok("grow", "--from", small, "--stage", "Large", "--out", large);
        return (small, large);
    }
}
