using System.Buffers.Binary;
using TokenformerGen.Checkpoints;
using TokenformerGen.Data;
using TokenformerGen.Handoff;
using TokenformerGen.Inference;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Fuzz;

/// <summary>
/// The runtime's readers of untrusted bytes as fuzz targets, each through the public entry point a command calls:
/// every command's safetensors checkpoint, <c>import --official</c>'s <c>pytorch_model.bin</c>, <c>import --neox</c>'s
/// DeepSpeed directory, <c>--data</c>'s NeoX <c>.idx</c>/<c>.bin</c> pair, <c>--tokenizer</c>'s <c>tokenizer.json</c> and
/// the model card of <c>generate --onnx</c>'s export folder.
/// </summary>
public static class ReaderTargets
{
    /// <summary>The layer count the checkpoint targets read for (the seeds are 1-layer models).</summary>
    public const int Layers = 1;

    /// <summary>Text every accepted tokenizer encodes and decodes, as <c>data export</c> and <c>generate</c> would.</summary>
    public const string SampleText = "In the beginning God created the heaven and the earth.\n<|endoftext|> Ünïcödé 123 \t x";

    /// <summary>safetensors: the header (validated on open), the checkpoint metadata, then every tensor read.</summary>
    public static readonly FuzzTarget SafeTensors = new("safetensors", ReadSafeTensors, ManagedFactor: 16, TensorFactor: 1);

    /// <summary><c>pytorch_model.bin</c>: the torch zip, its pickle and every tensor, as <c>import --official</c> reads them.</summary>
    public static readonly FuzzTarget Official = new("official", ReadOfficial, ManagedFactor: 256, TensorFactor: 16);

    /// <summary><c>mp_rank_00_model_states.pt</c> in a DeepSpeed directory, as <c>import --neox</c> reads it.</summary>
    public static readonly FuzzTarget DeepSpeed = new("deepspeed", ReadDeepSpeed, ManagedFactor: 256, TensorFactor: 32);

    /// <summary>
    /// A NeoX dataset: the input is a 4-byte little-endian length n, n bytes of <c>PREFIX.idx</c>, and the rest
    /// <c>PREFIX.bin</c>; opened as <c>--data PREFIX</c> opens it, then every id read.
    /// </summary>
    public static readonly FuzzTarget NeoX = new("neox", ReadNeoX, ManagedFactor: 4, TensorFactor: 0);

    /// <summary>A <c>tokenizer.json</c>, loaded as <c>--tokenizer</c> loads it, then used to encode and decode.</summary>
    public static readonly FuzzTarget Tokenizer = new("tokenizer", ReadTokenizer, ManagedFactor: 64, TensorFactor: 0);

    /// <summary>The model card of an ONNX export (<c>tokenformer-onnx.json</c>), read as <c>generate --onnx</c> reads it before the graph.</summary>
    public static readonly FuzzTarget OnnxCard = new("onnx-card", ReadOnnxCard, ManagedFactor: 64, TensorFactor: 0);

    /// <summary>Every runtime target.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } = [SafeTensors, Official, DeepSpeed, NeoX, Tokenizer, OnnxCard];

    private static Outcome ReadSafeTensors(byte[] input, string scratch)
    {
        var path = Path.Combine(scratch, "model.safetensors");
        File.WriteAllBytes(path, input);
        try
        {
            using var reader = SafeTensorsReader.Open(path);
            long bytes = 0;
            foreach (var info in reader.Tensors)
            {
                using var tensor = reader.ReadTensor(info.Name);
                bytes += tensor.NumberOfElements * tensor.ElementSize;
            }
            CheckpointMetadata.FromDictionary(reader.Metadata, path);
            return Outcome.Accepted(bytes);
        }
        catch (CheckpointFormatException e)
        {
            return Outcome.Refused(e.Message);
        }
    }

    private static Outcome ReadOfficial(byte[] input, string scratch)
    {
        var path = Path.Combine(scratch, OfficialCheckpoint.FileName);
        File.WriteAllBytes(path, input);
        try
        {
            var tensors = OfficialCheckpoint.Read(path, Layers);
            return Outcome.Accepted(DisposeAll(tensors.Values));
        }
        catch (Exception e) when (e is CheckpointFormatException or CheckpointMismatchException)
        {
            return Outcome.Refused(e.Message);
        }
    }

    private static Outcome ReadDeepSpeed(byte[] input, string scratch)
    {
        var tag = DeepSpeedCheckpoint.TagFor(1);
        Directory.CreateDirectory(Path.Combine(scratch, tag));
        File.WriteAllText(Path.Combine(scratch, DeepSpeedCheckpoint.LatestFile), tag);
        File.WriteAllBytes(Path.Combine(scratch, tag, DeepSpeedCheckpoint.ModelStatesFile), input);
        try
        {
            using var read = DeepSpeedCheckpoint.Read(scratch, Layers);
            return Outcome.Accepted(read.Tensors.Values.Sum(t => t.NumberOfElements * t.ElementSize));
        }
        catch (Exception e) when (e is CheckpointFormatException or CheckpointMismatchException)
        {
            return Outcome.Refused(e.Message);
        }
    }

    private static Outcome ReadNeoX(byte[] input, string scratch)
    {
        var prefix = Path.Combine(scratch, "data");
        var (index, data) = SplitPair(input);
        File.WriteAllBytes(NeoXDataset.IndexPath(prefix), index);
        File.WriteAllBytes(NeoXDataset.DataPath(prefix), data);
        try
        {
            using var corpus = TokenCorpus.OpenNeoX(prefix, SixteenBitVocabulary.Instance);
            var ids = new int[4096];
            for (long at = 0; at < corpus.Count; at += ids.Length)
                corpus.Read(at, ids.AsSpan(0, (int)Math.Min(ids.Length, corpus.Count - at)));
            return Outcome.Accepted();
        }
        catch (NeoXDatasetException e)
        {
            return Outcome.Refused(e.Message);
        }
    }

    private static Outcome ReadTokenizer(byte[] input, string scratch)
    {
        var path = Path.Combine(scratch, "tokenizer.json");
        File.WriteAllBytes(path, input);
        try
        {
            var tokenizer = HuggingFaceBpeTokenizer.Load(path);
            var ids = tokenizer.Encode(SampleText);
            tokenizer.Decode(ids);
            tokenizer.Decode([0, 1, tokenizer.VocabularySize - 1, tokenizer.VocabularySize, -1]);
            return Outcome.Accepted();
        }
        catch (TokenizerException e)
        {
            return Outcome.Refused(e.Message);
        }
    }

    private static Outcome ReadOnnxCard(byte[] input, string scratch)
    {
        File.WriteAllBytes(Path.Combine(scratch, OnnxModelCard.FileName), input);
        try
        {
            var card = OnnxModelCard.Read(scratch);
            OnnxModelCard.ForLayer(card.PastKey, card.Layers - 1);
            return Outcome.Accepted();
        }
        catch (InvalidDataException e)
        {
            return Outcome.Refused(e.Message);
        }
    }

    /// <summary>Splits a <see cref="NeoX"/> input into its <c>.idx</c> and <c>.bin</c> bytes (a length past the end takes all).</summary>
    public static (byte[] Index, byte[] Data) SplitPair(byte[] input)
    {
        if (input.Length < 4) return (input, []);
        var n = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(input), (uint)(input.Length - 4));
        return (input[4..(4 + n)], input[(4 + n)..]);
    }

    /// <summary>Joins a <c>.idx</c> and a <c>.bin</c> into one <see cref="NeoX"/> input.</summary>
    public static byte[] JoinPair(byte[] index, byte[] data)
    {
        var joined = new byte[4 + index.Length + data.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(joined, (uint)index.Length);
        index.CopyTo(joined, 4);
        data.CopyTo(joined, 4 + index.Length);
        return joined;
    }

    private static long DisposeAll(IEnumerable<TorchSharp.torch.Tensor> tensors)
    {
        long bytes = 0;
        foreach (var t in tensors)
        {
            bytes += t.NumberOfElements * t.ElementSize;
            t.Dispose();
        }
        return bytes;
    }

    // A vocabulary of 65,536 ids for the dataset's range check: every uint16 id is in range, wider ones may not be.
    private sealed class SixteenBitVocabulary : ITextTokenizer
    {
        public static readonly SixteenBitVocabulary Instance = new();

        public string Name => "u16";

        public string Identity => "fuzz/u16";

        public int VocabularySize => 65536;

        public int[] Encode(string text) => throw new NotSupportedException("the dataset target only reads ids");

        public string Decode(ReadOnlySpan<int> ids) => throw new NotSupportedException("the dataset target only reads ids");

        public long CountBytes(ReadOnlySpan<int> ids) => 0;
    }
}
