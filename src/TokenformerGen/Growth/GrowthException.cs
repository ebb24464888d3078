namespace TokenformerGen.Growth;

/// <summary>A growth that would lose or misplace weights: shrinking, a wrong axis or a shape mismatch.</summary>
public sealed class GrowthException(string message) : Exception(message);
