using TokenformerGen.Architecture;
using TokenformerGen.Modules;

namespace TokenformerGen.Tests.Growth;

/// <summary>What the growth tests grow: models that change the residual stream visibly, as trained ones do, and one input.</summary>
internal static class TrainedLike
{
    /// <summary>Ten token ids <c>[1, 10]</c>.</summary>
    public static readonly Tensor Tokens = tensor(new long[] { 3, 17, 200, 5, 9, 64, 1, 250, 42, 7 }).view(1, 10);

    /// <summary>
    /// From scratch, with every output weight (value tokens, a Transformer's output projections) 8× larger and a
    /// non-trivial final norm, so every block changes the residual stream visibly, as in a trained model.
    /// </summary>
    public static T Model<T>(T model, long seed = 3) where T : TokenformerModel
    {
        model.InitializeFromScratch(seed);
        using var _ = no_grad();
        foreach (var (name, parameter) in model.NamedParameters())
        {
            if (ParameterNames.RoleOf(name) is ParameterRole.OutputWeight or ParameterRole.ValueTokens) parameter.mul_(8);
        }
        var state = model.state_dict();
        state[ParameterNames.FinalNormWeight].uniform_(0.5, 1.5);
        state[ParameterNames.FinalNormBias].uniform_(-0.2, 0.2);
        return model;
    }
}
