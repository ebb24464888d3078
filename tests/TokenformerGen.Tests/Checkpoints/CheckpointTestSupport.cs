using TokenformerGen.Primitives;
using TorchSharp.Modules;

namespace TokenformerGen.Tests.Checkpoints;

/// <summary>q, k, v and output projection Pattentions under the names the generator will emit.</summary>
internal sealed class TinyAttention : nn.Module<Tensor, Tensor>
{
    private readonly Pattention query;
    private readonly Pattention key;
    private readonly Pattention value;
    private readonly Pattention proj;

    public TinyAttention(long d, long nQkv, long nProj) : base(nameof(TinyAttention))
    {
        query = new Pattention(d, nQkv, d);
        key = new Pattention(d, nQkv, d);
        value = new Pattention(d, nQkv, d);
        proj = new Pattention(d, nProj, d);
        RegisterComponents();
    }

    // Not attention (the checkpoint tests only need the parameters); keeps every child used.
    public override Tensor forward(Tensor x) => proj.forward(query.forward(x) + key.forward(x) + value.forward(x));
}

internal sealed class TinyBlock : nn.Module<Tensor, Tensor>
{
    private readonly TinyAttention attention;
    private readonly Pattention mlp;

    public TinyBlock(long d, long nQkv, long nProj, long nFfn) : base(nameof(TinyBlock))
    {
        attention = new TinyAttention(d, nQkv, nProj);
        mlp = new Pattention(d, nFfn, d);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => mlp.forward(attention.forward(x));
}

/// <summary>A tiny model whose state dict has exactly our checkpoint key names.</summary>
internal sealed class TinyTokenformer : nn.Module<Tensor, Tensor>
{
    private readonly Embedding word_embeddings;
    private readonly ModuleList<TinyBlock> layers;
    private readonly LayerNorm final_norm;

    public TinyTokenformer(int layerCount = 2, long vocab = 11, long d = 4, long nQkv = 3, long nProj = 5, long nFfn = 6)
        : base(nameof(TinyTokenformer))
    {
        word_embeddings = nn.Embedding(vocab, d);
        layers = new ModuleList<TinyBlock>(Enumerable.Range(0, layerCount).Select(_ => new TinyBlock(d, nQkv, nProj, nFfn)).ToArray());
        final_norm = nn.LayerNorm(d);
        RegisterComponents();
        LayerCount = layerCount;
    }

    public int LayerCount { get; }

    public void FinalNormTo(ScalarType dtype) => final_norm.to(dtype);

    public override Tensor forward(Tensor tokens)
    {
        var h = word_embeddings.forward(tokens);
        foreach (var block in layers) h = block.forward(h);
        return final_norm.forward(h);
    }

    /// <summary>Fills every parameter with seeded random values (distinct per tensor and per seed).</summary>
    public TinyTokenformer Randomize(long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (_, p) in named_parameters())
        {
            using var r = randn(p.shape, p.dtype, generator: generator);
            p.copy_(r);
        }
        return this;
    }
}

internal static class TensorAssert
{
    public static byte[] Raw(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        return c.bytes.ToArray();
    }

    public static void BitEqual(Tensor expected, Tensor actual, string name = "")
    {
        Assert.True(expected.dtype == actual.dtype, $"{name}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        Assert.True(Raw(expected).AsSpan().SequenceEqual(Raw(actual)), $"{name}: bytes differ");
    }

    public static void StateDictsBitEqual(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in expected) BitEqual(t, actual[name], name);
    }

    /// <summary>A deep copy of every tensor's bytes, to check later that nothing was modified.</summary>
    public static Dictionary<string, byte[]> Snapshot(IReadOnlyDictionary<string, Tensor> stateDict)
        => stateDict.ToDictionary(kv => kv.Key, kv => Raw(kv.Value));

    public static void Unchanged(Dictionary<string, byte[]> snapshot, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        foreach (var (name, bytes) in snapshot)
            Assert.True(bytes.AsSpan().SequenceEqual(Raw(stateDict[name])), $"{name} was modified");
    }
}

/// <summary>A fresh folder per test class instance, deleted afterwards.</summary>
public abstract class TempFolderTest : IDisposable
{
    protected TempFolderTest()
    {
        Folder = Path.Combine(Path.GetTempPath(), "tfg-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    protected string Folder { get; }

    protected string PathOf(string name) => Path.Combine(Folder, name);

    protected string[] FilesInFolder() => Directory.GetFiles(Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }
}
