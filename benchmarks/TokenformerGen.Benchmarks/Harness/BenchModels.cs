using TokenformerGen.Benchmarks.Models;
using TokenformerGen.Data;
using TokenformerGen.Modules;
using TokenformerGen.Text.Data;
using TokenformerGen.Training;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>The benchmark family sizes and their data.</summary>
internal static class BenchModels
{
    public sealed record Size(string Label, Func<TokenformerModel> Create);

    public static Size Tiny { get; } = new("tiny", () => new BenchTinyBase());

    public static Size TenM { get; } = new("~10M", () => new Bench10MBase());

    public static Size FiftyM { get; } = new("~50M", () => new Bench50MBase());

    /// <summary>The released TokenFormer-150M shape (vocabulary 50,304, d 768, 12 layers, tokens 768/768/3072).</summary>
    public static Size Released150M { get; } = new("TokenFormer150M", () => new Examples.TokenFormer150MReleased());

    /// <summary>The paper's progressive family's second stage, reached by growth from P124M (tokens 2140/2140/8560).</summary>
    public static Size P354M { get; } = new("PaperProgressive/P354M", () => new Examples.PaperProgressiveP354M());

    /// <summary>The equal-parameter Transformer twin of <see cref="Released150M"/> (bias-free linear projections, MLP 4,608 = 6d; Specs/Transformer150M).</summary>
    public static Size Transformer150M { get; } = new("Transformer150M", () => new Transformer150MTwin());

    /// <summary>The example's largest Tokenformer stage (d 128, 4 layers, tokens 128/128/512).</summary>
    public static Size TinyKjvLarge { get; } = new("TinyKjv/Large", () => new Examples.TinyKjvLarge());

    /// <summary>Its equal-parameter Transformer twin (MLP 768 = 6d; examples/families/TinyKjvTransformer).</summary>
    public static Size TinyKjvTransformer { get; } = new("TinyKjvTransformer/Large", () => new Examples.TinyKjvTransformerLarge());

    /// <summary>The shapes users train: what <c>--shape</c> chooses from.</summary>
    public static IReadOnlyList<Size> ReleasedShapes { get; } = [Released150M, P354M];

    public static Size ByName(string name) => name switch
    {
        "tiny" => Tiny,
        "10M" => TenM,
        "50M" => FiftyM,
        "150M" => Released150M,
        "P354M" => P354M,
        _ => throw new ArgumentException($"Unknown size '{name}' (tiny, 10M, 50M, 150M, P354M)."),
    };

    /// <summary>A model initialised from scratch with a fixed seed.</summary>
    public static TokenformerModel Initialized(Size size, long seed = 1)
    {
        var model = size.Create();
        model.InitializeFromScratch(seed);
        return model;
    }

    /// <summary>A fixed prompt of <paramref name="length"/> ids spread over the vocabulary (step 7919 modulo its size), for decoding figures.</summary>
    public static long[] Prompt(long vocabulary, int length) => Enumerable.Range(0, length).Select(i => i * 7919L % vocabulary).ToArray();

    /// <summary>The KJV corpus, byte-tokenized (the token cache lives in the temp folder and is reused).</summary>
    public static TokenCorpus OpenCorpus()
        => TokenCorpus.Open(Repo.Corpus, ByteTokenizer.Instance, Path.Combine(Path.GetTempPath(), "tokenformergen-bench-cache"));

    public static IBatchSource Batches(TokenCorpus corpus, long seed = 7) => new CorpusBatchSource(corpus, seed);
}
