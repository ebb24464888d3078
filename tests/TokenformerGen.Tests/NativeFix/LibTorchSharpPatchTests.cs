using TokenformerGen.Build;
using static TokenformerGen.Tests.NativeFix.NativeFixTestSupport;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>The routine on TorchSharp's real libLibTorchSharp.so, and the copy this process runs.</summary>
public class LibTorchSharpPatchTests
{
    /// <summary>Checks the patch on a private copy: two flag bytes, WEAK, idempotent.</summary>
    private static void AssertPatchesCopy(string path, byte[] original)
    {
        VersionNeed before = ElfProbe.Need(original, Libstdcxx, Glibcxx332)!;
        Assert.Equal((ushort)0, before.Flags);

        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));

        byte[] patched = File.ReadAllBytes(path);
        Assert.All(Differences(original, patched), i => Assert.InRange(i, before.FlagsOffset, before.FlagsOffset + 1));
        Assert.Equal((ushort)0x2, ElfProbe.Need(patched, Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(
            ElfProbe.Needs(original).Where(n => n.Version != Glibcxx332).Select(n => (n.Library, n.Version, n.Flags)),
            ElfProbe.Needs(patched).Where(n => n.Version != Glibcxx332).Select(n => (n.Library, n.Version, n.Flags)));
        if (ReadelfFlags(path, Libstdcxx, Glibcxx332) is string flags) Assert.Equal("WEAK", flags);

        Assert.Equal(WeakPatchResult.AlreadyWeak, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));
        Assert.Equal(patched, File.ReadAllBytes(path));
    }

    [LinuxX64Fact]
    public void PatchesACopyAndLeavesTheNuGetCacheAlone()
    {
        string cache = NuGetCacheLibrary();
        string cacheHash = Sha256(cache);
        byte[] original = File.ReadAllBytes(cache);
        using var temp = new TempFolder();
        string copy = temp.File("libLibTorchSharp.so");
        File.Copy(cache, copy);

        AssertPatchesCopy(copy, original);

        Assert.Equal(["libLibTorchSharp.so"], temp.Listing());
        Assert.Equal(cacheHash, Sha256(cache));
    }

    [LinuxX64Fact]
    public void PatchingAHardLinkToTheNuGetCacheLeavesTheCacheAlone()
    {
        string cache = NuGetCacheLibrary();
        string cacheHash = Sha256(cache);
        byte[] original = File.ReadAllBytes(cache);
        using var temp = new TempFolder();

        // First on a private original, so that a routine writing through links fails here
        // instead of damaging the NuGet cache that other builds share.
        string privateOriginal = temp.File("private-original.so");
        string privateLink = temp.File("private-link.so");
        File.Copy(cache, privateOriginal);
        CreateHardLink(privateOriginal, privateLink);
        AssertPatchesCopy(privateLink, original);
        Assert.Equal(original, File.ReadAllBytes(privateOriginal));

        // Then a link into the real cache (same file system as the temp folder on this machine;
        // link() fails loudly otherwise).
        string link = temp.File("libLibTorchSharp.so");
        CreateHardLink(cache, link);
        Assert.True(LinkCount(cache) >= 2);
        AssertPatchesCopy(link, original);
        Assert.Equal(cacheHash, Sha256(cache));
        Assert.Equal((ushort)0, ElfProbe.Need(File.ReadAllBytes(cache), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(["libLibTorchSharp.so", "private-link.so", "private-original.so"], temp.Listing());
    }

    [LinuxX64Fact]
    public void RefusesATruncatedLibrary()
    {
        string cache = NuGetCacheLibrary();
        byte[] original = File.ReadAllBytes(cache);
        long shoff = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(0x28));
        int shnum = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(original.AsSpan(0x3C));
        Assert.True(shnum > 2 && shoff + 64L * shnum <= original.Length);
        using var temp = new TempFolder();
        foreach ((string name, int length) in new[] { ("first-4k.so", 4096), ("cut-in-section-headers.so", (int)(shoff + 64L * shnum / 2 + 7)) })
        {
            string path = temp.File(name);
            File.WriteAllBytes(path, original[..length]);

            var error = Assert.Throws<ElfFormatException>(() => ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));

            Assert.Contains("section header table lies outside the file", error.Message);
            Assert.Contains("truncated", error.Message);
            Assert.StartsWith(path, error.Message);
            Assert.Equal(original[..length], File.ReadAllBytes(path));
        }
        Assert.Equal(["cut-in-section-headers.so", "first-4k.so"], temp.Listing());
    }

    [LinuxX64Fact]
    public void ALibraryThatDoesNotNeedTheVersionIsNotNeededAndUntouched()
    {
        string cache = NuGetCacheLibrary();
        using var temp = new TempFolder();
        string copy = temp.File("libLibTorchSharp.so");
        File.Copy(cache, copy);
        byte[] original = File.ReadAllBytes(copy);

        Assert.Equal(WeakPatchResult.NotNeeded, ElfVersionPatcher.MarkVersionNeedWeak(copy, Libstdcxx, "GLIBCXX_3.4.99"));
        Assert.Equal(WeakPatchResult.NotNeeded, ElfVersionPatcher.MarkVersionNeedWeak(copy, "libc.so.6", Glibcxx332));
        Assert.Equal(original, File.ReadAllBytes(copy));

        // A real library with no need of libstdc++ at all: the system libstdc++ itself.
        string? system = SystemLibstdcxx();
        if (system is not null)
        {
            string other = temp.File("libstdc++.so.6");
            File.Copy(system, other);
            byte[] otherBytes = File.ReadAllBytes(other);
            Assert.Equal(WeakPatchResult.NotNeeded, ElfVersionPatcher.MarkVersionNeedWeak(other, Libstdcxx, Glibcxx332));
            Assert.Equal(otherBytes, File.ReadAllBytes(other));
        }
        Assert.Equal(system is null ? ["libLibTorchSharp.so"] : ["libLibTorchSharp.so", "libstdc++.so.6"], temp.Listing());
    }

    [LinuxX64Fact]
    public void DefinesVersionAgreesWithTheProbeOnTheSystemLibstdcxx()
    {
        string? system = SystemLibstdcxx();
        if (system is null) return;
        IReadOnlyList<string> defined = ElfProbe.Definitions(File.ReadAllBytes(system));
        Assert.Contains("GLIBCXX_3.4", defined);
        foreach (string version in new[] { "GLIBCXX_3.4", "GLIBCXX_3.4.30", Glibcxx332, "CXXABI_1.3", "GLIBCXX_9.9" })
            Assert.Equal(defined.Contains(version), ElfVersionPatcher.DefinesVersion(system, version));
    }

    [LinuxX64Fact]
    public void TheLibraryThisProcessLoadedIsPatchedAndTorchRuns()
    {
        Assert.Equal(2f, ones(2).sum().item<float>());

        // The copy the dynamic loader actually mapped into this process, not a guess at bin/.
        string loaded = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is int at and >= 0 ? line[at..] : "")
            .Distinct()
            .Single(path => Path.GetFileName(path) == "libLibTorchSharp.so");
        Assert.StartsWith(Path.GetFullPath(AppContext.BaseDirectory), loaded);
        Assert.NotEqual(Path.GetFullPath(NuGetCacheLibrary()), loaded);
        // The build patches it unless the system libstdc++ already provides the version (it does
        // not on Debian 12, where this test is meant to catch a build that forgot the patch).
        bool systemProvides = SystemLibstdcxx() is string system && ElfProbe.Definitions(File.ReadAllBytes(system)).Contains(Glibcxx332);
        ushort expected = systemProvides ? (ushort)0 : (ushort)0x2;
        Assert.Equal(expected, ElfProbe.Need(File.ReadAllBytes(loaded), Libstdcxx, Glibcxx332)!.Flags);
        if (ReadelfFlags(loaded, Libstdcxx, Glibcxx332) is string flags) Assert.Equal(systemProvides ? "none" : "WEAK", flags);
    }

    /// <summary>The libstdc++ the MSBuild task consults (its first existing candidate), or null.</summary>
    internal static string? SystemLibstdcxx() => new[]
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    }.FirstOrDefault(File.Exists);
}
