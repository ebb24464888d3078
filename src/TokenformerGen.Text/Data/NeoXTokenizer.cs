using System.IO.Compression;
using System.Security.Cryptography;

namespace TokenformerGen.Text.Data;

/// <summary>
/// The GPT-NeoX-20B tokenizer (<c>tokenizer.json</c> of the official TokenFormer repository, Apache-2.0; see
/// <c>Data/Resources/neox-20b-tokenizer.NOTICE.md</c>), shipped compressed inside this assembly so that families
/// declared with <c>tokenizer: neox</c> tokenize exactly as the released models and the official trainer do.
/// </summary>
public static class NeoXTokenizer
{
    /// <summary>The file name it is written under and named by in messages and cache files.</summary>
    public const string FileName = "neox-20b-tokenizer.json";

    /// <summary>SHA-256 of the uncompressed <c>tokenizer.json</c>, as published.</summary>
    public const string Sha256 = "56ac4821e129d2c520fdaba60abd920fa852ada51b45c0dd52bbb6bd8c985ade";

    /// <summary>Ids in the vocabulary: 50,254 BPE tokens plus 23 whitespace-run and 2 special added tokens.</summary>
    public const int VocabularySize = 50277;

    private const string ResourceName = "TokenformerGen.Text.Data.neox-20b-tokenizer.json.gz";

    private static readonly Lazy<HuggingFaceBpeTokenizer> Shared = new(() => HuggingFaceBpeTokenizer.Parse(Json(), FileName));

    /// <summary>The one parsed instance (parsing takes a moment, so it is shared; it is immutable).</summary>
    public static HuggingFaceBpeTokenizer Instance => Shared.Value;

    /// <summary>The bytes of the <c>tokenizer.json</c>, checked against <see cref="Sha256"/>.</summary>
    /// <exception cref="InvalidDataException">The embedded resource is missing or altered (a broken build).</exception>
    public static byte[] Json()
    {
        using var resource = typeof(NeoXTokenizer).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidDataException($"the TokenformerGen.Text assembly lacks its embedded {ResourceName}");
        using var gzip = new GZipStream(resource, CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        var json = bytes.ToArray();
        var hash = Convert.ToHexStringLower(SHA256.HashData(json));
        if (hash != Sha256) throw new InvalidDataException($"the embedded {FileName} has sha256 {hash}, expected {Sha256}");
        return json;
    }
}
