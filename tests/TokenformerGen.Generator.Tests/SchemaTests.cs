extern alias GeneratorAssembly;

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using GeneratorAssembly::TokenformerGen.Generator.Parsing;
using TokenformerGen.Declarations;
using TokenformerGen.Generator.Tests.Infrastructure;
using TokenformerGen.Tests.Infrastructure;

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
        { "architecture.pattention.tau_tokens", SpecReader.TokenKeys },
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

    // The schema's lists of choices are written from the spelling tables, never by hand: a new choice changes this file when
    // the tests run with TFG_ACCEPT_BASELINES=1 (reviewed in the diff like a golden file), and fails here until then.
    [Fact]
    public void EveryChoiceInTheSchemaIsWrittenFromItsSpellingTable()
    {
        var path = Path.Combine(RepoPaths.Schemas, "tokenformer-v1.schema.json");
        var text = File.ReadAllText(path);
        var schema = JsonNode.Parse(text)!;
        foreach (var (key, spellings) in Choices.Select(row => ((string)row[0], (string[])row[1])))
        {
            var node = schema;
            foreach (var part in key.Replace("[]", "", StringComparison.Ordinal).Split('.'))
            {
                node = BranchNode(node, "properties")["properties"]![part]!;
                if (node["items"] is { } items) node = items;
            }
            BranchNode(node, "enum")["enum"] = new JsonArray([.. spellings.Select(s => JsonValue.Create(s))]);
        }
        var written = schema.ToJsonString(SchemaJson) + "\n";
        if (written == text) return;
        if (Environment.GetEnvironmentVariable(Baseline.AcceptVariable) == "1") File.WriteAllText(path, written);
        else Assert.Fail($"{path} lists other choices than the spelling tables (SpecChoices); run the tests with {Baseline.AcceptVariable}=1 to write them, and review the diff.");
    }

    private static readonly JsonSerializerOptions SchemaJson = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static JsonNode BranchNode(JsonNode node, string member)
        => node["oneOf"] is JsonArray forms ? forms.Single(f => f![member] is not null)! : node;

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
