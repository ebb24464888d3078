using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Primitives;

/// <summary>
/// From-scratch initialisation of the official models: key tokens and embedding N(0, 0.02), value
/// tokens "wang" N(0, 2/(L·√d)). Every draw takes an explicit generator, so a seed reproduces it.
/// </summary>
public static class Initializers
{
    /// <summary>GPT-NeoX "wang" init std for value tokens: <c>2 / (layers · √hidden)</c>.</summary>
    public static double WangStd(long layers, long hidden) => 2.0 / (layers * Math.Sqrt(hidden));

    /// <summary>
    /// Fills <paramref name="tensor"/> in place with N(0, std²) drawn from the CPU <paramref name="generator"/>: a tensor on
    /// another device gets the numbers drawn into a CPU tensor of its shape and copied, so a seed gives the same values
    /// on every device.
    /// </summary>
    public static void Normal(Tensor tensor, double std, Generator generator)
    {
        using var _ = no_grad();
        if (tensor.device_type == DeviceType.CPU)
        {
            tensor.normal_(0, std, generator);
            return;
        }
        using var drawn = empty(tensor.shape, tensor.dtype, CPU);
        drawn.normal_(0, std, generator);
        tensor.copy_(drawn);
    }

    /// <summary>Initialises a Pattention: keys N(0, keyStd²), values N(0, valueStd²).</summary>
    public static void Initialize(Pattention pattention, double keyStd, double valueStd, Generator generator)
    {
        Normal(pattention.Keys, keyStd, generator);
        Normal(pattention.Values, valueStd, generator);
    }
}
