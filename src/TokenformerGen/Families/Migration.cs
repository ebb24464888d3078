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
}
