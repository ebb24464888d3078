namespace TokenformerGen.Generator;

/// <summary>Name and version stamped on generated code (<c>[GeneratedCode]</c>).</summary>
internal static class GeneratorInfo
{
    public const string Name = "TokenformerGen.Generator";

    public static readonly string Version =
        typeof(GeneratorInfo).Assembly.GetName().Version?.ToString() ?? "0.0.0.0";
}
