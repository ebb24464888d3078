using static TorchSharp.torch;

namespace TokenformerGen.Growth;

/// <summary>Growth of a whole state dict into the shapes of a larger stage.</summary>
public static class StateDictGrowth
{
    /// <summary>
    /// Builds the state dict of the larger stage: tensors of equal shape are copied, Pattention key
    /// and value tokens grow along axis 0 per <paramref name="options"/>. Every problem (a missing,
    /// extra, shrinking or misshapen tensor) is collected and reported in one
    /// <see cref="GrowthException"/>. A seed reproduces the result.
    /// </summary>
    public static Dictionary<string, Tensor> Grow(IReadOnlyDictionary<string, Tensor> source,
                                                  IReadOnlyList<KeyValuePair<string, long[]>> targetShapes,
                                                  GrowthOptions options)
    {
        ParameterGrowth.CheckNotDeadSaddle(options);
        var problems = new List<string>();
        var targetNames = new HashSet<string>(targetShapes.Select(t => t.Key));
        problems.AddRange(source.Keys.Where(k => !targetNames.Contains(k)).Select(k => $"{k}: in the source but not in the target stage."));

        var grown = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in targetShapes)
        {
            if (!source.TryGetValue(name, out var tensor))
            {
                problems.Add($"{name}: missing from the source (target shape {Shapes.Format(shape)}).");
                continue;
            }
            try
            {
                grown[name] = tensor.shape.SequenceEqual(shape)
                    ? tensor.detach().clone()
                    : ParameterGrowth.AppendRows(name, tensor, shape, ParameterGrowth.NewRowStd(name, options), options.Seed);
            }
            catch (GrowthException e)
            {
                problems.Add(e.Message);
            }
        }
        if (problems.Count == 0) return grown;
        foreach (var t in grown.Values) t.Dispose();
        throw new GrowthException($"Cannot grow the state dict ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):" + Environment.NewLine + string.Join(Environment.NewLine, problems));
    }
}
