using System.Linq;
using Microsoft.CodeAnalysis;
using TokenformerGen.Generator.Diagnostics;

namespace TokenformerGen.Generator.Plumbing;

/// <summary>
/// A diagnostic as plain, equatable data (catalogue ID, location, message arguments), so it can
/// travel through the cached pipeline and be materialised only when reported.
/// </summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> MessageArgs)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] args)
        => new(descriptor.Id, location, args.Select(a => a?.ToString() ?? string.Empty).ToEquatableArray());

    public Diagnostic ToDiagnostic()
        => Diagnostic.Create(
            DiagnosticDescriptors.ById(Id),
            Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None,
            MessageArgs.Cast<object>().ToArray());
}
