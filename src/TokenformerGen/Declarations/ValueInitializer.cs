// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Declarations;

/// <summary>Initialiser of a family's value tokens (<see cref="TokenformerFamilyAttribute.ValueInit"/>).</summary>
/// <remarks>Not named <c>ValueInit</c>: inside the family class that name is the generated constant, and
/// attribute arguments on a class are bound in the class's scope.</remarks>
public enum ValueInitializer
{
    /// <summary>N(0, 2 / (L·√d)), GPT-NeoX's wang_init (the official choice).</summary>
    Wang,

    /// <summary>N(0, <see cref="TokenformerFamilyAttribute.ValueStd"/>).</summary>
    Normal,
}
