using TokenformerGen.Checkpoints;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Families;

/// <summary>Carries trained weights along a growth edge, driven by the edge's <see cref="ExpansionMap"/>.</summary>
public static class Migration
{
    /// <summary>
    /// Grows the trained <paramref name="source"/> into <paramref name="target"/> in memory: every
    /// parameter is checked against the map, fixed tensors are copied, parameter tokens appended and
    /// initialised by <paramref name="options"/> (the map's defaults when null).
    /// </summary>
    public static void GrowInto(ExpansionMap map, TokenformerModel source, TokenformerModel target, GrowthOptions? options = null)
    {
        map.Verify(source.StateShapes(), target.StateShapes());
        var grown = StateDictGrowth.Grow(source.state_dict(), map.Parameters.Select(p => new KeyValuePair<string, long[]>(p.Name, p.ToShape)).ToList(), options ?? map.DefaultOptions);
        try
        {
            using var _ = no_grad();
            var destination = target.state_dict();
            foreach (var (name, tensor) in grown) destination[name].copy_(tensor);
        }
        finally
        {
            foreach (var tensor in grown.Values) tensor.Dispose();
        }
    }

    /// <summary>
    /// Grows the checkpoint <paramref name="sourcePath"/> of <see cref="ExpansionMap.From"/> into a new
    /// checkpoint of <see cref="ExpansionMap.To"/> at <paramref name="targetPath"/>, one tensor at a
    /// time: peak memory is one source and one target tensor. The source must be of the map's family
    /// and stage and hold exactly the map's parameters; the target is written atomically, with step 0
    /// and no optimizer state (a growth starts a new training stage).
    /// </summary>
    public static CheckpointMetadata MigrateCheckpoint(ExpansionMap map, string sourcePath, string targetPath, GrowthOptions? options = null)
    {
        options ??= map.DefaultOptions;
        ParameterGrowth.CheckNotDeadSaddle(options);
        using var reader = SafeTensorsReader.Open(sourcePath);
        var source = CheckpointMetadata.FromDictionary(reader.Metadata, sourcePath);
        source.Require(sourcePath, map.From.Family, map.From.Name);
        var sourceShapes = reader.Tensors.Select(t => new KeyValuePair<string, long[]>(t.Name, t.Shape)).ToList();
        map.Verify(sourceShapes, map.Parameters.Select(p => new KeyValuePair<string, long[]>(p.Name, p.ToShape)).ToList());

        var rows = map.Parameters.ToDictionary(p => p.Name);
        var metadata = new CheckpointMetadata(map.To.Family, map.To.Name, map.To.SpecHash, 0)
        {
            Extra = new Dictionary<string, string> { ["grown_from"] = map.From.QualifiedName, ["growth_policy"] = options.Policy.ToString() },
        };
        var written = metadata with { CheckpointId = Guid.NewGuid().ToString("N") };
        SafeTensorsFile.WriteStreaming(targetPath,
            map.Parameters.Select(p => new TensorSpec(p.Name, reader.Tensors.First(t => t.Name == p.Name).DType, p.ToShape)),
            spec =>
            {
                var row = rows[spec.Name];
                var tensor = reader.ReadTensor(row.Name);
                if (row.GrowAxis is null) return tensor;   // written as read; the writer disposes it
                using (tensor)
                    return ParameterGrowth.AppendRows(row.Name, tensor, row.ToShape, ParameterGrowth.NewRowStd(row.Name, options), options.Seed);
            },
            written.ToDictionary("model"));
        return written;

    }
}
