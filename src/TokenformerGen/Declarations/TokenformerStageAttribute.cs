
using TokenformerGen.Families;

namespace TokenformerGen.Declarations;

/// <summary>
/// One stage of a family declared with <see cref="TokenformerFamilyAttribute"/>, on the same class
/// declaration. Stages are in schedule order: the order the attributes are written in. A stage
/// grows only from an earlier one (<see cref="From"/>, with a <see cref="Growth"/> policy).
/// </summary>
/// <remarks>
/// <see cref="Qkv"/>, <see cref="Proj"/> and <see cref="Ffn"/> are required. The training budget
/// (<see cref="TrainTokens"/>, <see cref="LearningRate"/>, <see cref="Warmup"/>, <see cref="Batch"/>)
/// is optional, but all four or none. Only arguments written in the attribute count.
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class TokenformerStageAttribute : Attribute
{
    /// <summary>Declares a stage.</summary>
    /// <param name="name">Stage name (<c>stages[].name</c>): a C# type name, unique ignoring case.</param>
    public TokenformerStageAttribute(string name) => Name = name;

    /// <summary>Stage name.</summary>
    public string Name { get; }

    /// <summary>Name of the earlier stage this one grows from (<c>stages[].from</c>); unset for a root stage.</summary>
    public string? From { get; set; }

    /// <summary>How the new token rows are initialised (<c>stages[].growth</c>); required with <see cref="From"/>, an error without.</summary>
    public GrowthPolicy Growth { get; set; }

    /// <summary>Blocks of the stage (<c>stages[].layers</c>); unset: its parent's, or the family's for a root.</summary>
    public int Layers { get; set; }

    /// <summary>How blocks added to the parent's are made (<c>stages[].growth.layers</c>); required when the stage is deeper than its parent.</summary>
    public LayerGrowth LayerGrowth { get; set; }

    /// <summary>Parameter tokens of each of the query, key and value Pattentions (<c>tokens.qkv</c>). Required.</summary>
    public int Qkv { get; set; }

    /// <summary>Parameter tokens of the attention output Pattention (<c>tokens.proj</c>). Required.</summary>
    public int Proj { get; set; }

    /// <summary>Parameter tokens of the FFN Pattention (<c>tokens.ffn</c>). Required.</summary>
    public int Ffn { get; set; }

    /// <summary>Training tokens of the stage (<c>train.tokens</c>).</summary>
    public long TrainTokens { get; set; }

    /// <summary>Peak learning rate, &gt; 0 (<c>train.learning_rate</c>).</summary>
    public double LearningRate { get; set; }

    /// <summary>Linear warm-up as a fraction of the stage's steps, in [0, 1) (<c>train.warmup</c>).</summary>
    public double Warmup { get; set; }

    /// <summary>Sequences per optimiser step (<c>train.batch</c>).</summary>
    public int Batch { get; set; }
}
