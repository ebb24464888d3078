using Microsoft.CodeAnalysis;

namespace TokenformerGen.Generator.Tests.Infrastructure;

/// <summary>Reads constants of a generated family class from the compilation (no assembly loading).</summary>
internal sealed class GeneratedFamily(Compilation compilation, string metadataName)
{
    private readonly INamedTypeSymbol _type = compilation.GetTypeByMetadataName(metadataName)
        ?? throw new InvalidOperationException($"{metadataName} was not generated");

    public INamedTypeSymbol Type => _type;

    public T Const<T>(string name) => Const<T>(_type, name);

    public T Const<T>(string stage, string name)
        => Const<T>(_type.GetTypeMembers(stage).Single(), name);

    public bool Has(string stage, string name) => !_type.GetTypeMembers(stage).Single().GetMembers(name).IsEmpty;

    private static T Const<T>(INamedTypeSymbol type, string name)
    {
        var field = type.GetMembers(name).OfType<IFieldSymbol>().Single();
        Assert.True(field.IsConst, $"{type.Name}.{name} is not a constant");
        return (T)field.ConstantValue!;
    }
}
