using static TorchSharp.torch;

namespace TokenformerGen.Checkpoints;

/// <summary>Compares what a checkpoint holds with what a model expects, listing every difference.</summary>
public static class StateDictCheck
{
    /// <summary>The specs (name, dtype, shape) of a state dict.</summary>
    public static List<TensorSpec> SpecsOf(IEnumerable<KeyValuePair<string, Tensor>> stateDict)
        => stateDict.Select(kv => TensorSpec.Of(kv.Key, kv.Value)).ToList();

    /// <summary>
    /// Every difference between <paramref name="expected"/> (the model) and <paramref name="found"/>
    /// (the file), one line each: missing and misshapen or mistyped tensors in the model's order, then
    /// unexpected ones sorted by name. Empty when they match.
    /// </summary>
    /// <param name="expected">What the model holds.</param>
    /// <param name="found">What the file holds.</param>
    /// <param name="display">How a tensor name is shown (e.g. with its name in another layout); the name itself when null.</param>
    public static List<string> Compare(IEnumerable<TensorSpec> expected, IEnumerable<TensorSpec> found, Func<string, string>? display = null)
    {
        display ??= n => n;
        var problems = new List<string>();
        var inFile = new Dictionary<string, TensorSpec>(StringComparer.Ordinal);
        foreach (var f in found) inFile[f.Name] = f;
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in expected)
        {
            expectedNames.Add(e.Name);
            if (!inFile.TryGetValue(e.Name, out var f))
            {
                problems.Add($"missing: {display(e.Name)} (model expects {Describe(e)}).");
                continue;
            }
            var shapeDiffers = !e.Shape.SequenceEqual(f.Shape);
            var dtypeDiffers = e.DType != f.DType;
            if (shapeDiffers || dtypeDiffers)
            {
                var what = shapeDiffers && dtypeDiffers ? "shape and dtype" : shapeDiffers ? "shape" : "dtype";
                problems.Add($"{what}: {display(e.Name)}: file has {Describe(f)}, model expects {Describe(e)}.");
            }
        }
        foreach (var name in inFile.Keys.Where(n => !expectedNames.Contains(n)).Order(StringComparer.Ordinal))
            problems.Add($"unexpected: {display(name)} (file has {Describe(inFile[name])}, the model has no such tensor).");
        return problems;
    }

    /// <summary>Throws a <see cref="CheckpointMismatchException"/> listing every difference, if any.</summary>
    public static void Require(string path, IEnumerable<TensorSpec> expected, IEnumerable<TensorSpec> found)
    {
        var problems = Compare(expected, found);
        if (problems.Count > 0) throw new CheckpointMismatchException(path, problems);
    }

    private static string Describe(TensorSpec s) => $"{SafeTensorsDType.DisplayName(s.DType)} {s.ShapeText}";
}
