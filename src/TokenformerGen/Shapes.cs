namespace TokenformerGen;

/// <summary>How shapes read in messages.</summary>
public static class Shapes
{
    /// <summary>Formats a shape as <c>[a, b]</c>.</summary>
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
