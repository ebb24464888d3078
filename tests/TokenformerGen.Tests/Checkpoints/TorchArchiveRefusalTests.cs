using TokenformerGen.Checkpoints;
using TokenformerGen.Checkpoints.Torch;
using TokenformerGen.Handoff;

namespace TokenformerGen.Tests.Checkpoints;

/// <summary>Hand-made torch.save files whose tensors lie about their storage: each is one refusal naming the file and the tensor.</summary>
public sealed class TorchArchiveRefusalTests : TempFolderTest
{
    private string Refusal(byte[] pickle, byte[] storage, bool compressStorage = false)
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        CraftedTorchFile.Write(path, pickle, storage, compressStorage);
        var e = Assert.Throws<CheckpointFormatException>(() => OfficialCheckpoint.Read(path, 1));
        Assert.StartsWith(path + ": ", e.Message);
        return e.Message;
    }

    [Fact]
    public void TheCraftedFileIsReadWhenItTellsTheTruth()
    {
        // The same writer as the refusals below, with a view that fits: the tensor is read (then refused by name only).
        var path = PathOf(OfficialCheckpoint.FileName);
        CraftedTorchFile.Write(path, CraftedTorchFile.StateDictPickle(6, 2, [2, 2], [2, 1]), new byte[24]);
        using var archive = TorchArchive.Open(path, PickleGlobals.StateDict);
        var tensors = archive.ReadStateDict(archive.Root, "its object");
        Assert.Equal([2L, 2], tensors["w"].shape);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void AStorageOffsetPastItsBlobIsRefused()
        => Assert.Contains("tensor 'w': the view (offset 9, shape [2], stride [1]) reaches past the last element of the 6-element storage '0'",
                           Refusal(CraftedTorchFile.StateDictPickle(6, 9, [2], [1]), new byte[24]));

    [Fact]
    public void AViewWhoseStridesWrapAroundIsRefused()
        // (2^31 − 1)·2^31·… in 64 bits would wrap to a small number; the check works in 128 bits.
        => Assert.Contains("reaches past the last element",
                           Refusal(CraftedTorchFile.StateDictPickle(6, 0, [int.MaxValue, int.MaxValue, int.MaxValue, 3], [int.MaxValue, int.MaxValue, int.MaxValue, 1]), new byte[24]));

    [Fact]
    public void AnExpandedViewLargerThanItsStorageIsRefused()
        // Stride 0: a million-by-million tensor of one stored element would need 4 TB.
        => Assert.Contains("has more elements than its 1-element storage '0' (an expanded tensor)",
                           Refusal(CraftedTorchFile.StateDictPickle(1, 0, [1_000_000, 1_000_000], [0, 0]), new byte[4]));

    [Fact]
    public void AStorageLongerThanItsRecordIsRefusedBeforeAllocating()
        => Assert.Contains("record data/'0' has 24 bytes; 4,611,686,018,427,387,904 elements of torch.FloatStorage need",
                           Refusal(CraftedTorchFile.StateDictPickle(1L << 62, 0, [1], [1]), new byte[24]));

    [Fact]
    public void ACompressedRecordThatInflatesPastTheCapIsRefused()
        // 4 MiB of zeros deflate to a few kilobytes: a zip bomb's shape. Weights deflate to about 1.1× (PyBridge writes them so).
        => Assert.Contains($"record data/0 claims 4,194,304 bytes from", Refusal(CraftedTorchFile.StateDictPickle(1 << 20, 0, [1], [1]), new byte[4 << 20], compressStorage: true));

    [Fact]
    public void ACompressedRecordWithinTheCapIsRead()
    {
        var path = PathOf(OfficialCheckpoint.FileName);
        var values = Enumerable.Range(0, 64).SelectMany(i => BitConverter.GetBytes(i * 0.37f)).ToArray();
        CraftedTorchFile.Write(path, CraftedTorchFile.StateDictPickle(64, 0, [8, 8], [8, 1]), values, compressStorage: true);
        using var archive = TorchArchive.Open(path, PickleGlobals.StateDict);
        using var w = archive.ReadStateDict(archive.Root, "its object")["w"];
        Assert.Equal(63 * 0.37f, w[7, 7].item<float>());
    }
}
