using TokenformerGen.Architecture;

namespace TokenformerGen.Tests.Architecture;

public class ModelSizeTests
{
    // The released models' exact parameter counts (tokenformer-spec.md), vocabulary padded to 50304.
    [Theory]
    [InlineData(12, 768, 768, 3072, 151_881_216L)]
    [InlineData(24, 1024, 1024, 4096, 454_166_528L)]
    [InlineData(32, 1280, 1280, 5120, 903_252_480L)]
    [InlineData(40, 1536, 1536, 6144, 1_587_219_456L)]
    public void ReleasedModelsHaveTheirPublishedParameterCounts(int layers, int hidden, int qkv, int ffn, long expected)
        => Assert.Equal(expected, ModelSize.Parameters(50304, layers, hidden, qkv, qkv, ffn));

    [Fact]
    public void GptNeoXVocabularyPadsTo50304() => Assert.Equal(50304, ModelSize.PaddedVocabulary(50277, 128));

    [Fact]
    public void TinyModelCountedByHand()
    {
        // vocab 10, 1 layer, d 4, n_qkv 2, n_proj 3, n_ffn 5:
        // embedding 40; q,k,v 3·2·(4+4) = 48; proj 3·8 = 24; ffn 5·8 = 40; final norm 8 → 160.
        Assert.Equal(160, ModelSize.Parameters(10, 1, 4, 2, 3, 5));
        // Forward per token at T = 6: Pattentions 2·(48+24+40) = 224, attention 4·4·6 = 96, head 2·4·10 = 80 → 400.
        Assert.Equal(400, ModelSize.ForwardFlopsPerToken(10, 1, 4, 2, 3, 5, 6));
        Assert.Equal(1200, ModelSize.TrainingFlopsPerToken(10, 1, 4, 2, 3, 5, 6));
    }
}
