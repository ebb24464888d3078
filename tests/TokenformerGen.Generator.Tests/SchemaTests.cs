extern alias GeneratorAssembly;

using System.Text.Json;
using GeneratorAssembly::TokenformerGen.Generator.Parsing;
using TokenformerGen.Declarations;
using TokenformerGen.Generator.Tests.Infrastructure;

namespace TokenformerGen.Generator.Tests;

/// <summary>The published JSON Schema lists exactly the keys the generator reads.</summary>
public class SchemaTests
{
    private static readonly JsonElement Schema =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Schemas, "tokenformer-v1.schema.json"))).RootElement;

    public static TheoryData<string, string[]> Mappings => new()
    {
        { "", SpecReader.RootKeys },
        { "vocab", SpecReader.VocabKeys },
        { "architecture", SpecReader.ArchitectureKeys },
        { "architecture.rotary", SpecReader.RotaryKeys },
        { "architecture.pattention", SpecReader.PattentionKeys },
        { "architecture.init", SpecReader.InitKeys },
        { "stages", SpecReader.StageKeys },
        { "stages.tokens", SpecReader.TokenKeys },
        { "stages.train", SpecReader.TrainKeys },
        { "stages.growth", SpecReader.GrowthKeys },
    };

    [Theory]
    [MemberData(nameof(Mappings))]
    public void KeysMatchTheReader(string path, string[] keys)
    {
        var node = Schema;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            node = Branch(node, "properties").GetProperty("properties").GetProperty(part);
            if (node.TryGetProperty("items", out var items))
            {
                node = items;
            }
        }

        node = Branch(node, "properties");
        Assert.False(node.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal(keys.Order(), node.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order());
    }

    public static TheoryData<string, string[]> Choices => new()
    {
        { SpecChoices.Tokenizer.Key, [.. SpecChoices.Tokenizer.Names] },
        { SpecChoices.Norm.Key, [.. SpecChoices.Norm.Names] },
        { SpecChoices.Tau.Key, [.. SpecChoices.Tau.Names] },
        { SpecChoices.ValueInit.Key, [.. SpecChoices.ValueInit.Names] },
        { SpecChoices.Growth.Key, [.. SpecChoices.Growth.Names] },
        { "stages[].growth.tokens", [.. SpecChoices.Growth.Names] },
        { SpecChoices.LayerGrowth.Key, [.. SpecChoices.LayerGrowth.Names] },
        { SpecChoices.Block.Key, [.. SpecChoices.Block.Names] },
    };

    [Theory]
    [MemberData(nameof(Choices))]
    public void EveryChoiceListsExactlyTheSpellingsOfItsTable(string key, string[] spellings)
    {
        var node = Schema;
        foreach (var part in key.Replace("[]", "", StringComparison.Ordinal).Split('.'))
        {
            node = Branch(node, "properties").GetProperty("properties").GetProperty(part);
            if (node.TryGetProperty("items", out var items)) node = items;
        }
        Assert.Equal(spellings, Branch(node, "enum").GetProperty("enum").EnumerateArray().Select(e => e.GetString()!));
    }

    // A value written in more than one form (growth: a policy, or a mapping): the form that has the member asked for.
    private static JsonElement Branch(JsonElement node, string member)
        => node.TryGetProperty("oneOf", out var forms) ? forms.EnumerateArray().Single(f => f.TryGetProperty(member, out _)) : node;

    [Fact]
    public void EveryExamplePointsEditorsAtTheSchema()
    {
        foreach (var file in Directory.GetFiles(RepoPaths.Examples, "*.tfmodel.yaml"))
        {
            Assert.StartsWith("# yaml-language-server: $schema=../../schemas/tokenformer-v1.schema.json", File.ReadAllText(file), StringComparison.Ordinal);
        }
    }
}
