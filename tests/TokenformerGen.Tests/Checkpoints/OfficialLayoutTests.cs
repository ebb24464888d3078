using TokenformerGen.Checkpoints;
using TokenformerGen.Handoff;

namespace TokenformerGen.Tests.Checkpoints;

public class OfficialLayoutTests
{
    [Theory]
    [InlineData("word_embeddings.weight", "sequential.0.word_embeddings.weight")]
    [InlineData("layers.0.attention.query.key_param_tokens", "sequential.2.attention.query.key_param_tokens")]
    [InlineData("layers.0.attention.proj.value_param_tokens", "sequential.2.attention.proj.value_param_tokens")]
    [InlineData("layers.2.attention.value.key_param_tokens", "sequential.4.attention.value.key_param_tokens")]
    [InlineData("layers.2.mlp.value_param_tokens", "sequential.4.mlp.value_param_tokens")]
    [InlineData("final_norm.weight", "sequential.6.norm.weight")]
    [InlineData("final_norm.bias", "sequential.6.norm.bias")]
    public void MapsBothWaysForThreeLayers(string ours, string official)
    {
        Assert.Equal(official, OfficialLayout.ToOfficial(ours, 3));
        Assert.Equal(ours, OfficialLayout.ToOurs(official, 3));
    }

    [Fact]
    public void TheReleasedTwelveLayerModelEndsWithItsNormAtFifteen()
    {
        var names = OfficialLayout.OfficialNames(12);
        Assert.Equal(1 + 12 * 10 + 2, names.Count);
        Assert.Equal("sequential.0.word_embeddings.weight", names[0]);
        Assert.Equal("sequential.13.mlp.value_param_tokens", names[^3]);
        Assert.Equal(["sequential.15.norm.weight", "sequential.15.norm.bias"], names.TakeLast(2));
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(OfficialLayout.OurNames(12), names.Select(n => OfficialLayout.ToOurs(n, 12)));
    }

    [Theory]
    [InlineData("layers.3.mlp.key_param_tokens", "layer 3 does not exist in a 3-layer model")]
    [InlineData("layers.01.mlp.key_param_tokens", "is not a Tokenformer tensor name")]
    [InlineData("layers.-1.mlp.key_param_tokens", "is not a Tokenformer tensor name")]
    [InlineData("layers.0.attention.dense.weight", "is not a Tokenformer tensor name")]
    [InlineData("layers.0.input_layernorm.weight", "is not a Tokenformer tensor name")]
    [InlineData("lm_head.weight", "is not a Tokenformer tensor name")]
    [InlineData("final_norm.running_mean", "is not a Tokenformer tensor name")]
    [InlineData("sequential.0.word_embeddings.weight", "is not a Tokenformer tensor name")]
    public void RefusesNamesOutsideOurLayout(string ours, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => OfficialLayout.ToOfficial(ours, 3));
        Assert.Contains($"'{ours}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("sequential.1.attention.query.key_param_tokens", "block index 1 is outside sequential.2..sequential.4")]
    [InlineData("sequential.5.mlp.key_param_tokens", "block index 5 is outside sequential.2..sequential.4")]
    [InlineData("sequential.5.norm.weight", "not in the official 3-layer layout")]
    [InlineData("sequential.7.norm.weight", "not in the official 3-layer layout")]
    [InlineData("sequential.02.mlp.key_param_tokens", "not in the official 3-layer layout")]
    [InlineData("sequential.2.input_layernorm.weight", "not in the official 3-layer layout")]
    [InlineData("word_embeddings.weight", "not in the official 3-layer layout")]
    [InlineData("sequential.0.word_embeddings.bias", "not in the official 3-layer layout")]
    public void RefusesNamesOutsideTheOfficialLayout(string official, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => OfficialLayout.ToOurs(official, 3));
        Assert.Contains($"'{official}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void OurNamesAreTheStateDictNamesOfAModule()
    {
        using var model = new TinyTokenformer(layerCount: 2);
        Assert.Equal(OfficialLayout.OurNames(2), model.state_dict().Keys);
    }

    [Fact]
    public void RefusesAModelWithoutLayers() => Assert.Throws<ArgumentOutOfRangeException>(() => OfficialLayout.OurNames(0));
}
