using System.Runtime.InteropServices;
using System.Text.Json;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>
/// The files an app carries for a library: what this program's <c>deps.json</c> lists for the library and, transitively,
/// for every package and project it depends on — portable assets and those of this platform (linux-x64), not other
/// platforms' natives, resources or the framework — as they lie in this program's output folder.
/// </summary>
internal static class RuntimeFiles
{
    private static readonly string[] Sections = ["runtime", "native", "runtimeTargets"];

    public static IReadOnlyList<FileInfo> Of(string library)
    {
        var bin = AppContext.BaseDirectory;
        var depsFile = Path.ChangeExtension(typeof(RuntimeFiles).Assembly.Location, ".deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsFile));
        var target = deps.RootElement.GetProperty("targets").EnumerateObject().First().Value;
        var entries = target.EnumerateObject().ToDictionary(p => p.Name[..p.Name.IndexOf('/')], p => p.Value);
        var files = new List<FileInfo>();
        var seen = new HashSet<string>();
        var pending = new Stack<string>([library]);
        while (pending.TryPop(out var name))
        {
            if (!seen.Add(name) || !entries.TryGetValue(name, out var entry)) continue;
            foreach (var section in Sections)
            {
                if (!entry.TryGetProperty(section, out var assets)) continue;
                foreach (var asset in assets.EnumerateObject())
                {
                    if (asset.Value.TryGetProperty("rid", out var rid) && rid.GetString() != RuntimeInformation.RuntimeIdentifier) continue;
                    files.Add(Locate(bin, asset.Name));
                }
            }
            if (entry.TryGetProperty("dependencies", out var dependencies))
                foreach (var dependency in dependencies.EnumerateObject()) pending.Push(dependency.Name);
        }
        return files;
    }

    // A build keeps platform assets under runtimes/<rid>/native; managed assemblies lie at the top of the folder.
    private static FileInfo Locate(string bin, string asset)
    {
        var nested = new FileInfo(Path.Combine(bin, asset));
        var file = nested.Exists ? nested : new FileInfo(Path.Combine(bin, Path.GetFileName(asset)));
        return file.Exists ? file : throw new FileNotFoundException($"deps.json lists {asset}, which is not in {bin}.", file.FullName);
    }
}
