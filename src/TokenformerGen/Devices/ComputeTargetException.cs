namespace TokenformerGen.Devices;

/// <summary>A device or precision that was asked for but cannot work here; the message says why and what to do.</summary>
public sealed class ComputeTargetException(string message) : Exception(message);
