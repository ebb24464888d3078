namespace TokenformerGen.Checkpoints;

/// <summary>
/// Crash-safe folder replacement, the folder counterpart of <see cref="AtomicFile"/>: the files are written into a fresh
/// temporary folder beside the target and flushed to disk, then the folder is renamed into place. A failure at any point
/// before the rename leaves the target as it was (absent, or the previous folder) and deletes the temporary folder, so a
/// reader never sees a half-written set of files.
/// </summary>
public static class AtomicFolder
{
    /// <summary>
    /// Writes <paramref name="folder"/> with <paramref name="write"/>, which receives the temporary folder to fill. An
    /// existing <paramref name="folder"/> is replaced only when it is empty or <paramref name="replaceable"/> says it holds
    /// an earlier result of the same kind; otherwise nothing is written.
    /// </summary>
    /// <exception cref="IOException"><paramref name="folder"/> is a file, or a non-empty folder that may not be replaced.</exception>
    public static void Write(string folder, Func<string, bool> replaceable, Action<string> write)
    {
        var target = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(target)) throw new IOException($"'{folder}' is a file, not a folder.");
        var exists = Directory.Exists(target);
        if (exists && Directory.EnumerateFileSystemEntries(target).Any() && !replaceable(target))
            throw new IOException($"'{folder}' is not empty and does not hold an earlier export: choose an empty or new folder.");

        var parent = Path.GetDirectoryName(target) ?? throw new IOException($"'{folder}' has no parent folder.");
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            foreach (var file in Directory.EnumerateFiles(temp, "*", SearchOption.AllDirectories))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
                stream.Flush(flushToDisk: true);
            }
            if (!exists)
            {
                Directory.Move(temp, target);
                return;
            }
            // A rename cannot replace a non-empty folder: move the old one aside, the new one in, then drop the old one.
            var old = Path.Combine(parent, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.old");
            Directory.Move(target, old);
            try
            {
                Directory.Move(temp, target);
            }
            catch
            {
                Directory.Move(old, target);
                throw;
            }
            Directory.Delete(old, recursive: true);
        }
        finally
        {
            if (Directory.Exists(temp)) TryDelete(temp);
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the original failure matters more than a leftover temporary folder.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
