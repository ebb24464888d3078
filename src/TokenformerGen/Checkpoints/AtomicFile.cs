namespace TokenformerGen.Checkpoints;

/// <summary>
/// Crash-safe file replacement: data goes to a temporary file in the target's folder, is flushed to
/// disk, then renamed over the target. A failure (exception or crash) at any point before the rename
/// leaves the previous file untouched; on an exception the temporary file is deleted.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with <paramref name="write"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var pending = Begin(path);
        write(pending.Stream);
        pending.Commit();
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically, as UTF-8 without a byte order mark.</summary>
    public static void WriteText(string path, string text) => Write(path, stream => stream.Write(new System.Text.UTF8Encoding(false).GetBytes(text)));

    /// <summary>
    /// Writes several files so that all their data is on disk before the first rename; renames then
    /// happen in list order. Use it for files that belong together, with the file that marks the set
    /// complete last (a crash between renames leaves detectably mismatched files, never a torn one).
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files)
    {
        var pending = new List<PendingFile>(files.Count);
        try
        {
            foreach (var (path, write) in files)
            {
                var file = Begin(path);
                pending.Add(file);
                write(file.Stream);
                file.FlushToDisk();
            }
            foreach (var file in pending) file.Commit();
        }
        finally
        {
            foreach (var file in pending) file.Dispose();
        }
    }

    /// <summary>
    /// Starts an atomic write: returns a <see cref="PendingFile"/> whose stream writes to a fresh
    /// temporary file beside <paramref name="path"/>. Call <see cref="PendingFile.Commit"/> to replace the
    /// target; disposing without committing deletes the temporary file.
    /// </summary>
    public static PendingFile Begin(string path)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder.", nameof(path));
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        return new PendingFile(full, temp, stream);
    }
}

/// <summary>An atomic write in progress; see <see cref="AtomicFile.Begin"/>.</summary>
public sealed class PendingFile : IDisposable
{
    private readonly FileStream _stream;
    private bool _closed;
    private bool _committed;

    internal PendingFile(string targetPath, string tempPath, FileStream stream)
    {
        TargetPath = targetPath;
        TempPath = tempPath;
        _stream = stream;
    }

    /// <summary>The file that <see cref="Commit"/> replaces.</summary>
    public string TargetPath { get; }

    /// <summary>The temporary file being written (same folder as the target).</summary>
    public string TempPath { get; }

    /// <summary>The stream to write to (seekable and readable).</summary>
    public Stream Stream => _stream;

    /// <summary>Flushes the written data through the OS cache to the disk.</summary>
    public void FlushToDisk()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        _stream.Flush(flushToDisk: true);
    }

    /// <summary>Flushes to disk, closes the temporary file and renames it over the target.</summary>
    public void Commit()
    {
        if (_committed) throw new InvalidOperationException($"{TargetPath} is already committed.");
        FlushToDisk();
        _stream.Dispose();
        _closed = true;
        File.Move(TempPath, TargetPath, overwrite: true);
        _committed = true;
    }

    /// <summary>Abandons an uncommitted write: closes and deletes the temporary file.</summary>
    public void Dispose()
    {
        if (!_closed)
        {
            _stream.Dispose();
            _closed = true;
        }
        if (_committed) return;
        try
        {
            File.Delete(TempPath);
        }
        catch (IOException)
        {
            // Best effort: the original failure matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
