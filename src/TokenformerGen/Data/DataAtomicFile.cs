namespace TokenformerGen.Data;

// TODO: use Checkpoints.AtomicFile — this private minimal copy exists only until the two branches merge.
/// <summary>Writes a file so that readers see either the old file or the complete new one, never a torn one.</summary>
internal static class DataAtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> on a fresh temporary file in the target's folder, flushes it to disk,
    /// then renames it over <paramref name="path"/>. On failure the temporary file is removed and the old file stays.
    /// </summary>
    public static void Write(string path, Action<FileStream> write)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
