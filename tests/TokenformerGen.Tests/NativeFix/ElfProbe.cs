using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>One vernaux entry as read by <see cref="ElfProbe"/>.</summary>
public sealed record VersionNeed(string Library, string Version, ushort Flags, long FlagsOffset);

/// <summary>
/// A second, deliberately separate reader of ELF64 LE version sections, so the tests do not judge
/// the patcher by its own code. Trusts its input (it only reads files the tests made or checked).
/// </summary>
public static class ElfProbe
{
    public static IReadOnlyList<VersionNeed> Needs(byte[] image)
    {
        var result = new List<VersionNeed>();
        foreach (var (type, offset, _, link, info) in Sections(image))
        {
            if (type != SyntheticElfBuilder.ShtGnuVerneed) continue;
            long strtab = Sections(image)[(int)link].Offset;
            long vn = offset;
            for (uint i = 0; i < info; i++)
            {
                ReadOnlySpan<byte> entry = image.AsSpan((int)vn, 16);
                string file = CString(image, strtab + BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]));
                long vna = vn + BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
                for (int a = 0; a < BinaryPrimitives.ReadUInt16LittleEndian(entry[2..]); a++)
                {
                    ReadOnlySpan<byte> aux = image.AsSpan((int)vna, 16);
                    result.Add(new VersionNeed(
                        file,
                        CString(image, strtab + BinaryPrimitives.ReadUInt32LittleEndian(aux[8..])),
                        BinaryPrimitives.ReadUInt16LittleEndian(aux[4..]),
                        vna + 4));
                    vna += BinaryPrimitives.ReadUInt32LittleEndian(aux[12..]);
                }
                vn += BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
            }
        }
        return result;
    }

    public static VersionNeed? Need(byte[] image, string library, string version) =>
        Needs(image).SingleOrDefault(n => n.Library == library && n.Version == version);

    /// <summary>The names of all verdef entries (their first verdaux).</summary>
    public static IReadOnlyList<string> Definitions(byte[] image)
    {
        var result = new List<string>();
        foreach (var (type, offset, _, link, info) in Sections(image))
        {
            if (type != SyntheticElfBuilder.ShtGnuVerdef) continue;
            long strtab = Sections(image)[(int)link].Offset;
            long vd = offset;
            for (uint i = 0; i < info; i++)
            {
                long vda = vd + BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan((int)vd + 12));
                result.Add(CString(image, strtab + BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan((int)vda))));
                vd += BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan((int)vd + 16));
            }
        }
        return result;
    }

    private static List<(uint Type, long Offset, long Size, uint Link, uint Info)> Sections(byte[] image)
    {
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(0x28));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(0x3C));
        var list = new List<(uint, long, long, uint, uint)>();
        for (int i = 0; i < shnum; i++)
        {
            ReadOnlySpan<byte> sh = image.AsSpan((int)(shoff + 64L * i), 64);
            list.Add((BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]),
                      (long)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]),
                      (long)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x20..]),
                      BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]),
                      BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..])));
        }
        return list;
    }

    private static string CString(byte[] image, long at)
    {
        int end = Array.IndexOf(image, (byte)0, (int)at);
        return Encoding.ASCII.GetString(image, (int)at, end - (int)at);
    }
}

/// <summary>Helpers shared by the native-fix tests.</summary>
public static class NativeFixTestSupport
{
    public const string Libstdcxx = "libstdc++.so.6";
    public const string Glibcxx332 = "GLIBCXX_3.4.32";

    public static bool IsLinuxX64 => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64;

    /// <summary>
    /// The pristine libLibTorchSharp.so in the NuGet package folder, found from this test's
    /// deps.json (package path) and NUGET_PACKAGES or ~/.nuget/packages.
    /// </summary>
    public static string NuGetCacheLibrary()
    {
        string deps = Path.Combine(AppContext.BaseDirectory, "TokenformerGen.Tests.deps.json");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(deps));
        string packagePath = json.RootElement.GetProperty("libraries").EnumerateObject()
            .Single(p => p.Name.StartsWith("TorchSharp/", StringComparison.Ordinal))
            .Value.GetProperty("path").GetString()!;
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env
            ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string library = Path.Combine(root, packagePath, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(library), "TorchSharp's libLibTorchSharp.so not found in the NuGet cache at " + library);
        return library;
    }

    public static string Sha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>Indexes where two equally long images differ.</summary>
    public static List<long> Differences(byte[] before, byte[] after)
    {
        Assert.Equal(before.Length, after.Length);
        var diff = new List<long>();
        for (long i = 0; i < before.Length; i++) if (before[i] != after[i]) diff.Add(i);
        return diff;
    }

    /// <summary>
    /// The flags readelf (binutils) reports for a needed version, or null when readelf is not
    /// installed. A third opinion, from a tool that shares no code with this repository.
    /// </summary>
    public static string? ReadelfFlags(string path, string library, string version)
    {
        string? readelf = new[] { "/usr/bin/readelf", "/bin/readelf" }.FirstOrDefault(File.Exists);
        if (readelf is null) return null;
        var start = new ProcessStartInfo(readelf) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-V");
        start.ArgumentList.Add("-W");
        start.ArgumentList.Add(path);
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        // Lines look like "  000000: Version: 1  File: libstdc++.so.6  Cnt: 2" and
        // "  0x0010:   Name: GLIBCXX_3.4.32  Flags: WEAK  Version: 18".
        string? file = null;
        foreach (string line in output.Split('\n'))
        {
            int at = line.IndexOf("File: ", StringComparison.Ordinal);
            if (at >= 0) { file = line[(at + 6)..].Split(' ')[0]; continue; }
            at = line.IndexOf("Name: ", StringComparison.Ordinal);
            int flags = line.IndexOf("Flags: ", StringComparison.Ordinal);
            if (at >= 0 && flags > at && file == library && line[(at + 6)..].Split(' ')[0] == version)
                return line[(flags + 7)..].Split("  ")[0].Trim();
        }
        throw new Xunit.Sdk.XunitException("readelf -V does not list " + library + " " + version + " in " + path + ":\n" + output);
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int PosixLink(string existing, string newPath);

    public static void CreateHardLink(string existing, string newPath)
    {
        if (PosixLink(existing, newPath) != 0)
            throw new IOException("link(" + existing + ", " + newPath + ") failed: errno " + Marshal.GetLastPInvokeError());
    }

    /// <summary>Link count of a file, from <c>stat -c %h</c>.</summary>
    public static int LinkCount(string path)
    {
        var start = new ProcessStartInfo("stat") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("%h");
        start.ArgumentList.Add(path);
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A [Fact] that is skipped off linux-x64, where TorchSharp's Linux library does not apply.</summary>
public sealed class LinuxX64FactAttribute : FactAttribute
{
    public LinuxX64FactAttribute()
    {
        if (!NativeFixTestSupport.IsLinuxX64) Skip = "needs linux-x64 (TorchSharp's linux-x64 libLibTorchSharp.so)";
    }
}

/// <summary>A scratch folder under the system temp path, removed on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tfg-elf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>The names of the files in the folder, sorted.</summary>
    public string[] Listing() => Directory.GetFiles(Path).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
