using System.Text.Json;
using System.Text.RegularExpressions;

namespace TokenformerGen.Tests.Support;

/// <summary>
/// Checks a YAML config against what the official trainer accepts: the keys and annotated types of its config class
/// (<c>TestData/neox-config-keys.tsv</c>, derived from its source, provenance in the file), the values it reads from the
/// DeepSpeed dicts, and the keys it requires. The text is read the way PyYAML (YAML 1.1) reads the JSON-style configs:
/// a number with neither a dot nor an exponent is an int; a float needs a dot, and an exponent needs a sign
/// (<c>1e-08</c> is a string).
/// </summary>
internal static class NeoXConfigKeys
{
    public static string TsvPath => Path.Combine(AppContext.BaseDirectory, "Checkpoints", "TestData", "neox-config-keys.tsv");

    /// <summary>Key → type annotation, as the trainer's source declares them.</summary>
    public static IReadOnlyDictionary<string, string> Accepted { get; } = File.ReadLines(TsvPath)
        .Where(line => line.Length > 0 && line[0] != '#')
        .Select(line => line.Split('\t'))
        .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);

    /// <summary>Every reason the trainer would refuse <paramref name="yaml"/>; empty when it takes it.</summary>
    public static List<string> Problems(string yaml, out Dictionary<string, object?> parsed)
    {
        var json = string.Join('\n', yaml.Split('\n').Where(line => !line.TrimStart().StartsWith('#')));
        using var document = JsonDocument.Parse(json);
        var config = parsed = (Dictionary<string, object?>)Value(document.RootElement)!;
        var problems = new List<string>();
        foreach (var (raw, value) in config)
        {
            var key = raw.Replace('-', '_');
            if (!Accepted.TryGetValue(key, out var type)) problems.Add($"unknown key {key}");
            else if (value is not null && !Fits(value, type)) problems.Add($"{key}: {Describe(value)} is not {type}");
        }
        string[] required = ["num_layers", "hidden_size", "num_attention_heads", "max_position_embeddings", "qkv_slot_num", "proj_slot_num", "ffn_slot_num", "attention_config", "norm_activation_type"];
        foreach (var key in required.Where(k => !config.ContainsKey(k))) problems.Add($"missing {key}");
        if (config.GetValueOrDefault("optimizer") is not Dictionary<string, object?> optimizer || optimizer.GetValueOrDefault("type") is not string
            || optimizer.GetValueOrDefault("params") is not Dictionary<string, object?> parameters || parameters.GetValueOrDefault("lr") is not (long or double))
            problems.Add("optimizer needs a string type and params with a number lr");
        else if (config.GetValueOrDefault("min_lr") is { } minLr && minLr is long or double && Convert.ToDouble(minLr, System.Globalization.CultureInfo.InvariantCulture) > Convert.ToDouble(parameters["lr"], System.Globalization.CultureInfo.InvariantCulture))
            problems.Add("min_lr exceeds lr");
        if (config.ContainsKey("save") && !config.ContainsKey("checkpoint_factor") && !config.ContainsKey("extra_save_iters"))
            problems.Add("save without checkpoint_factor");
        if (!config.ContainsKey("data_path") && !new[] { "train_data_paths", "valid_data_paths", "test_data_paths" }.All(config.ContainsKey))
            problems.Add("no data_path");
        foreach (var key in new[] { "fp16", "amp", "flops_profiler" })
            if (config.GetValueOrDefault(key) is Dictionary<string, object?> dict && !dict.ContainsKey("enabled")) problems.Add($"{key} lacks enabled");
        if (config.GetValueOrDefault("hidden_size") is long hidden && config.GetValueOrDefault("num_attention_heads") is long heads && hidden % heads != 0)
            problems.Add("hidden_size is not divisible by num_attention_heads");
        if (config.GetValueOrDefault("seq_length") is long seq && config.GetValueOrDefault("max_position_embeddings") is long max && seq > max)
            problems.Add("seq_length exceeds max_position_embeddings");
        return problems;
    }

    private static bool Fits(object value, string type)
    {
        if (type.StartsWith("Literal[", StringComparison.Ordinal))
            return Regex.Matches(type, "'([^']*)'").Select(m => m.Groups[1].Value).Any(choice => value is string s && string.Equals(s, choice, StringComparison.OrdinalIgnoreCase));
        if (type.StartsWith("Union[", StringComparison.Ordinal))
            return (type.Contains("int") && value is long) || (type.Contains("List") && value is List<object?>) || (type.Contains("Literal") && Fits(value, type[type.IndexOf("Literal", StringComparison.Ordinal)..^1]));
        return type switch
        {
            "int" => value is long,
            "float" => value is long or double,
            "str" => value is string,
            "bool" => value is bool,
            "dict" => value is Dictionary<string, object?>,
            "list" => value is List<object?>,
            _ => throw new InvalidOperationException($"no rule for the annotation {type}"),
        };
    }

    private static object? Value(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => Value(p.Value), StringComparer.Ordinal),
        JsonValueKind.Array => element.EnumerateArray().Select(Value).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => Number(element.GetRawText()),
    };

    // PyYAML's YAML 1.1 resolvers for the number forms JSON allows.
    private static object Number(string text)
    {
        if (Regex.IsMatch(text, "^[-+]?(0|[1-9][0-9_]*)$")) return long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        if (Regex.IsMatch(text, @"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$")) return double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return text;   // e.g. 1e-08: a string to PyYAML
    }

    private static string Describe(object value) => value switch
    {
        string s => $"the string \"{s}\"",
        long l => $"the int {l}",
        double d => $"the float {d}",
        bool b => $"the bool {b}",
        _ => value.GetType().Name,
    };
}
