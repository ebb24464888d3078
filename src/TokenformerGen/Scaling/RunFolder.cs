using System.Text;
using System.Text.Json;
using TokenformerGen.Checkpoints;

namespace TokenformerGen.Scaling;

/// <summary>A run folder that belongs to another run, or is in use by one.</summary>
/// <param name="directory">The folder.</param>
/// <param name="message">What is wrong, with every differing entry.</param>
public sealed class RunFolderException(string directory, string message) : Exception(message)
{
    /// <summary>The folder.</summary>
    public string Directory { get; } = directory;

    /// <summary>Entries of the folder's identity that differ from the run that wanted it: (key, folder's value, requested value); empty when the folder is refused for another reason.</summary>
    public IReadOnlyList<(string Key, string? Folder, string? Requested)> Differences { get; init; } = [];
}

/// <summary>
/// The folder of one schedule run, claimed for the lifetime of this object. Its identity (family, spec, data and
/// every option that changes a result) is written to <c>run.json</c> the first time, with notes about how it was first
/// run (e.g. the thread count); a later claim with a different identity is refused, so a folder never mixes two runs,
/// and the same identity resumes what is there. While claimed, an exclusive lock on <c>.lock</c> keeps a second process
/// out; the operating system releases it when the process ends, however it ends.
/// </summary>
public sealed class RunFolder : IDisposable
{
    /// <summary>The identity file.</summary>
    public const string IdentityFile = "run.json";

    /// <summary>The lock file held while the folder is claimed.</summary>
    public const string LockFile = ".lock";

    private readonly FileStream _lock;

    private RunFolder(string directory, FileStream lockFile, bool resumed, IReadOnlyDictionary<string, string> notes)
        => (Directory, _lock, Resumed, Notes) = (directory, lockFile, resumed, notes);

    /// <summary>The notes recorded when the folder was first claimed (not part of its identity).</summary>
    public IReadOnlyDictionary<string, string> Notes { get; }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>True when the folder already held this run (work done before may be found in it).</summary>
    public bool Resumed { get; }

    /// <summary>
    /// Claims <paramref name="directory"/> (creating it) for the run named by <paramref name="identity"/>: a new or empty
    /// folder gets <c>run.json</c> (with <paramref name="notes"/>); a folder whose <c>run.json</c> holds exactly this
    /// identity is resumed, and its first notes are kept.
    /// </summary>
    /// <exception cref="RunFolderException">The folder holds another run, files that are not a run, or is in use.</exception>
    public static RunFolder Claim(string directory, IReadOnlyDictionary<string, string> identity, IReadOnlyDictionary<string, string>? notes = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new RunFolderException(directory, $"{directory} is in use by another running process.");
        }
        try
        {
            var path = Path.Combine(directory, IdentityFile);
            if (File.Exists(path))
            {
                var (found, firstNotes) = Read(path);
                var differences = identity.Keys.Union(found.Keys).Order(StringComparer.Ordinal)
                    .Select(key => (Key: key, Folder: found.GetValueOrDefault(key), Requested: identity.GetValueOrDefault(key)))
                    .Where(d => d.Folder != d.Requested).ToList();
                if (differences.Count > 0)
                    throw new RunFolderException(directory,
                        $"{directory} holds another run ({IdentityFile}): " + string.Join("; ", differences.Select(d => $"{d.Key} is {Show(d.Folder)} there, {Show(d.Requested)} here")) + ".")
                    { Differences = differences };
                return new RunFolder(directory, lockFile, resumed: true, firstNotes);
            }
            var strangers = System.IO.Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName)
                .Where(name => name != LockFile && !(name!.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal))).Order(StringComparer.Ordinal).ToList();
            if (strangers.Count > 0)
                throw new RunFolderException(directory, $"{directory} is not empty and holds no {IdentityFile}, so it is not a run folder of this tool (it has {string.Join(", ", strangers.Take(3))}{(strangers.Count > 3 ? ", …" : "")}).");
            notes ??= new Dictionary<string, string>();
            var content = new Content { Identity = new(identity, StringComparer.Ordinal), Notes = new(notes, StringComparer.Ordinal) };
            AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, content, Json));
            return new RunFolder(directory, lockFile, resumed: false, notes);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => _lock.Dispose();

    private static (Dictionary<string, string> Identity, Dictionary<string, string> Notes) Read(string path)
    {
        try
        {
            var content = JsonSerializer.Deserialize<Content>(File.ReadAllText(path, Encoding.UTF8), Json);
            return content?.Identity is { } identity ? (identity, content.Notes ?? []) : throw new InvalidDataException($"{path} holds no run identity.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a run identity: {e.Message}", e);
        }
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private sealed class Content
    {
        public Dictionary<string, string>? Identity { get; init; }

        public Dictionary<string, string>? Notes { get; init; }
    }

    private static string Show(string? value) => value is null ? "absent" : $"'{value}'";
}
