using System;

namespace TokenformerGen.Generator.Plumbing;

/// <summary>
/// A value and the diagnostics found while computing it, travelling together through the pipeline
/// (the value is <see langword="null"/> when an error prevented it).
/// </summary>
internal sealed record Result<T>(T? Value, EquatableArray<DiagnosticInfo> Diagnostics)
    where T : class, IEquatable<T>;
