using TokenformerGen.Checkpoints;

namespace TokenformerGen.Tests.Checkpoints;

public sealed class AtomicFileTests : TempFolderTest
{
    /// <summary>Passes writes through until <c>limit</c> bytes, then fails like a full disk.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        private long _written;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_written + buffer.Length > limit)
            {
                inner.Write(buffer[..(int)(limit - _written)]);
                _written = limit;
                throw new IOException("No space left on device (simulated).");
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }
    }

    private static Dictionary<string, Tensor> Tensors(float value) => new()
    {
        ["a"] = full([64], value),
        ["b"] = full([8, 8], value),
        ["c"] = full([3], value),
    };

    private (string Path, byte[] Bytes) ExistingFile()
    {
        var path = PathOf("model.safetensors");
        SafeTensorsFile.Write(path, Tensors(1f), new Dictionary<string, string> { ["version"] = "old" });
        return (path, File.ReadAllBytes(path));
    }

    [Fact]
    public void ReplacesTheTargetAndLeavesNoTemporaryFile()
    {
        var (path, old) = ExistingFile();
        SafeTensorsFile.Write(path, Tensors(2f));
        Assert.NotEqual(old, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], FilesInFolder());
        using var read = SafeTensorsFile.Read(path);
        Assert.Equal(2f, read.Tensors["b"][7, 7].item<float>());
    }

    [Fact]
    public void ATensorSourceThatFailsHalfwayLeavesThePreviousFileIntact()
    {
        var (path, old) = ExistingFile();
        var specs = Tensors(0f).Select(kv => TensorSpec.Of(kv.Key, kv.Value));
        var calls = 0;
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            using var writer = new SafeTensorsWriter(stream, specs);
            foreach (var info in writer.Order)
            {
                if (++calls == 2) throw new InvalidOperationException("source failed");
                using var t = full(info.Shape, 3f);
                writer.Write(info.Name, t);
            }
            writer.Complete();
        }));
        Assert.Equal("source failed", e.Message);
        Assert.Equal(2, calls);
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], FilesInFolder());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(100)]
    [InlineData(300)]
    public void AStreamThatFailsMidWriteLeavesThePreviousFileIntact(long failAfter)
    {
        var (path, old) = ExistingFile();
        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream => SafeTensorsFile.Write(new FailingStream(stream, failAfter), Tensors(5f))));
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], FilesInFolder());
    }

    [Fact]
    public void ACrashBeforeCommitLeavesThePreviousFileIntact()
    {
        var (path, old) = ExistingFile();
        // A process that dies after writing everything but before the rename: no commit, no cleanup.
        var pending = AtomicFile.Begin(path);
        SafeTensorsFile.Write(pending.Stream, Tensors(9f));
        pending.FlushToDisk();
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(Path.GetDirectoryName(path), Path.GetDirectoryName(pending.TempPath));
        pending.Dispose(); // what the next start-up (or the finally) cleans
        Assert.Equal(["model.safetensors"], FilesInFolder());
    }

    [Fact]
    public void WriteAllRenamesNothingWhenAnyFileFails()
    {
        var (path, old) = ExistingFile();
        var second = PathOf("model.optimizer.safetensors");
        SafeTensorsFile.Write(second, Tensors(1f));
        var oldSecond = File.ReadAllBytes(second);

        Assert.Throws<IOException>(() => AtomicFile.WriteAll(
        [
            (second, s => SafeTensorsFile.Write(s, Tensors(4f))),
            (path, s => SafeTensorsFile.Write(new FailingStream(s, 50), Tensors(4f))),
        ]));
        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(oldSecond, File.ReadAllBytes(second));
        Assert.Equal(["model.optimizer.safetensors", "model.safetensors"], FilesInFolder());
    }

    [Fact]
    public void CreatesTheFolderAndANewFile()
    {
        var path = Path.Combine(Folder, "sub", "dir", "x.bin");
        AtomicFile.Write(path, s => s.Write([1, 2, 3]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal(["x.bin"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }
}
