using static TorchSharp.torch;

namespace TokenformerGen.Devices;

/// <summary>
/// The device check a fused kernel makes on a real device, for the spelt-out forms the primitives use on the meta device:
/// there indexing and masked_fill accept a CPU operand silently, which would hide a tensor made on the wrong device.
/// </summary>
internal static class SameDevice
{
    /// <summary>Throws unless <paramref name="operand"/> is on the device of <paramref name="reference"/>.</summary>
    /// <exception cref="ArgumentException">The two are on different devices.</exception>
    public static void Require(Tensor operand, string operandName, Tensor reference, string referenceName)
    {
        if (operand.device_type != reference.device_type || operand.device_index != reference.device_index)
            throw new ArgumentException($"Expected all tensors to be on the same device, but found {operand.device} ({operandName}) and {reference.device} ({referenceName}).");
    }
}
