using System.Buffers.Binary;
using TokenformerGen.Build;
using static TokenformerGen.Tests.NativeFix.NativeFixTestSupport;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>The ELF routine on hand-built images whose every byte the test knows.</summary>
public class ElfVersionPatcherTests
{
    /// <summary>
    /// libother.so needs a version with the same name before libstdc++.so.6 does, so a match on the
    /// version name alone would patch the wrong entry.
    /// </summary>
    private static SyntheticElf TypicalImage(ushort targetFlags = 0) => new SyntheticElfBuilder()
        .Need("libm.so.6", new NeededVersion("GLIBC_2.2.5"))
        .Need("libother.so", new NeededVersion(Glibcxx332), new NeededVersion("OTHER_1.0"))
        .Need(Libstdcxx, new NeededVersion("GLIBCXX_3.4.30"), new NeededVersion(Glibcxx332, targetFlags), new NeededVersion("CXXABI_1.3"))
        .Build();

    [Fact]
    public void BuilderOutputIsReadByReadelf()
    {
        // Guards the builder itself: binutils must read the synthetic image the way the tests assume.
        SyntheticElf elf = TypicalImage();
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        File.WriteAllBytes(path, elf.Bytes);
        Assert.Equal(6, elf.FlagsOffsets.Count);
        Assert.Equal(
            [("libm.so.6", "GLIBC_2.2.5"), ("libother.so", Glibcxx332), ("libother.so", "OTHER_1.0"),
             (Libstdcxx, "GLIBCXX_3.4.30"), (Libstdcxx, Glibcxx332), (Libstdcxx, "CXXABI_1.3")],
            ElfProbe.Needs(elf.Bytes).Select(n => (n.Library, n.Version)).ToArray());
        Assert.Equal(elf.FlagsOffsets.Values.Order(), ElfProbe.Needs(elf.Bytes).Select(n => (int)n.FlagsOffset));
        foreach (var ((library, version), _) in elf.FlagsOffsets)
        {
            string? flags = ReadelfFlags(path, library, version);
            Assert.True(flags is null or "none", library + " " + version + ": readelf reads flags " + flags);
        }
    }

    [Theory]
    [InlineData((ushort)0x0, (ushort)0x2)]
    [InlineData((ushort)0x4, (ushort)0x6)]      // VER_FLG_INFO is kept
    public void MarkVersionNeedWeakChangesExactlyTheFlagsOfThatNeed(ushort before, ushort after)
    {
        SyntheticElf elf = TypicalImage(before);
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        byte[] original = elf.Bytes;
        File.WriteAllBytes(path, original);

        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));

        byte[] patched = File.ReadAllBytes(path);
        int flagsAt = elf.FlagsOffsets[(Libstdcxx, Glibcxx332)];
        Assert.All(Differences(original, patched), i => Assert.InRange(i, flagsAt, flagsAt + 1));
        Assert.Equal(after, BinaryPrimitives.ReadUInt16LittleEndian(patched.AsSpan(flagsAt)));
        Assert.Equal(original.Length, patched.Length);
        // Every other need keeps its flags, in particular libother.so's need of the same version name.
        Assert.Equal((ushort)0, ElfProbe.Need(patched, "libother.so", Glibcxx332)!.Flags);
        Assert.Equal(["synthetic.so"], temp.Listing());
        if (ReadelfFlags(path, Libstdcxx, Glibcxx332) is string flags) Assert.Contains("WEAK", flags);
    }

    [Fact]
    public void MarkVersionNeedWeakIsIdempotent()
    {
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        File.WriteAllBytes(path, TypicalImage().Bytes);
        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));
        byte[] once = File.ReadAllBytes(path);
        DateTime written = File.GetLastWriteTimeUtc(path);

        Assert.Equal(WeakPatchResult.AlreadyWeak, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));

        Assert.Equal(once, File.ReadAllBytes(path));
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(["synthetic.so"], temp.Listing());
    }

    [Fact]
    public void MarkVersionNeedWeakOnAlreadyWeakInputLeavesTheFileAlone()
    {
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        byte[] original = TypicalImage(targetFlags: 0x2).Bytes;
        File.WriteAllBytes(path, original);
        Assert.Equal(WeakPatchResult.AlreadyWeak, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));
        Assert.Equal(original, File.ReadAllBytes(path));
    }

    [Fact]
    public void FindVersionNeedFlagsReturnsTheOffsetTheBuilderWrote()
    {
        SyntheticElf elf = TypicalImage();
        Assert.Equal(elf.FlagsOffsets[(Libstdcxx, Glibcxx332)], ElfVersionPatcher.FindVersionNeedFlags("synthetic.so", elf.Bytes, Libstdcxx, Glibcxx332));
        Assert.Equal(elf.FlagsOffsets[("libother.so", Glibcxx332)], ElfVersionPatcher.FindVersionNeedFlags("synthetic.so", elf.Bytes, "libother.so", Glibcxx332));
        Assert.Equal(elf.FlagsOffsets[("libm.so.6", "GLIBC_2.2.5")], ElfVersionPatcher.FindVersionNeedFlags("synthetic.so", elf.Bytes, "libm.so.6", "GLIBC_2.2.5"));
        Assert.Equal(-1, ElfVersionPatcher.FindVersionNeedFlags("synthetic.so", elf.Bytes, "libm.so.6", Glibcxx332));
    }

    public static TheoryData<string, string[]> ImagesNotNeedingTheVersion => new()
    {
        // The version is needed, but from another library only.
        { "other library", ["libother.so", Glibcxx332] },
        // The library is needed, but not that version.
        { "other version", [Libstdcxx, "GLIBCXX_3.4.30"] },
        // No .gnu.version_r at all (only a .gnu.version_d).
        { "no verneed section", [] },
    };

    [Theory]
    [MemberData(nameof(ImagesNotNeedingTheVersion))]
    public void MarkVersionNeedWeakWhenNotNeededReturnsNotNeededAndLeavesTheFileAlone(string why, string[] need)
    {
        var builder = new SyntheticElfBuilder().Define("libself.so");
        if (need.Length > 0) builder.Need(need[0], new NeededVersion(need[1]));
        byte[] original = builder.Build().Bytes;
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        File.WriteAllBytes(path, original);
        DateTime written = File.GetLastWriteTimeUtc(path);

        Assert.True(WeakPatchResult.NotNeeded == ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332), why);

        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(["synthetic.so"], temp.Listing());
    }

    [Fact]
    public void DefinesVersionReadsVerdefNames()
    {
        SyntheticElf elf = new SyntheticElfBuilder()
            .Define("libstdc++.so.6").Define("GLIBCXX_3.4").Define("GLIBCXX_3.4.30").Define("CXXABI_1.3")
            .Need("libc.so.6", new NeededVersion("GLIBC_2.2.5"), new NeededVersion(Glibcxx332))
            .Build();
        using var temp = new TempFolder();
        string path = temp.File("libstdc++.so.6");
        File.WriteAllBytes(path, elf.Bytes);
        Assert.Equal(["libstdc++.so.6", "GLIBCXX_3.4", "GLIBCXX_3.4.30", "CXXABI_1.3"], ElfProbe.Definitions(elf.Bytes));

        Assert.True(ElfVersionPatcher.DefinesVersion(path, "GLIBCXX_3.4.30"));
        Assert.True(ElfVersionPatcher.DefinesVersion(path, "CXXABI_1.3"));   // the last entry (vd_next == 0)
        Assert.False(ElfVersionPatcher.DefinesVersion(path, Glibcxx332));    // only *needed* here
        Assert.False(ElfVersionPatcher.DefinesVersion(path, "GLIBCXX_3.4.3"));
        Assert.Equal(elf.Bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void DefinesVersionWithoutVerdefSectionIsFalse()
    {
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        File.WriteAllBytes(path, TypicalImage().Bytes);
        Assert.False(ElfVersionPatcher.DefinesVersion(path, "GLIBCXX_3.4.30"));
    }

    [Fact]
    public void MarkVersionNeedWeakKeepsTheFileMode()
    {
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempFolder();
        string path = temp.File("synthetic.so");
        File.WriteAllBytes(path, TypicalImage().Bytes);
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead;
        File.SetUnixFileMode(path, mode);
        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));
        Assert.Equal(mode, File.GetUnixFileMode(path));
    }

    [Fact]
    public void MarkVersionNeedWeakThroughAHardLinkLeavesTheOtherNameAlone()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var temp = new TempFolder();
        string original = temp.File("original.so");
        string link = temp.File("link.so");
        byte[] bytes = TypicalImage().Bytes;
        File.WriteAllBytes(original, bytes);
        CreateHardLink(original, link);
        Assert.Equal(2, LinkCount(original));

        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(link, Libstdcxx, Glibcxx332));

        Assert.Equal(bytes, File.ReadAllBytes(original));
        Assert.Equal((ushort)0x2, ElfProbe.Need(File.ReadAllBytes(link), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(1, LinkCount(original));
        Assert.Equal(["link.so", "original.so"], temp.Listing());
    }

    [Fact]
    public void MarkVersionNeedWeakThroughASymbolicLinkReplacesTheLinkNotItsTarget()
    {
        // MSBuild can symlink copy-local files into bin/ (CreateSymbolicLinksForCopyFilesToOutputDirectoryIfPossible).
        if (OperatingSystem.IsWindows()) return;
        using var temp = new TempFolder();
        string original = temp.File("original.so");
        string link = temp.File("link.so");
        byte[] bytes = TypicalImage().Bytes;
        File.WriteAllBytes(original, bytes);
        File.CreateSymbolicLink(link, original);

        Assert.Equal(WeakPatchResult.Patched, ElfVersionPatcher.MarkVersionNeedWeak(link, Libstdcxx, Glibcxx332));

        Assert.Equal(bytes, File.ReadAllBytes(original));
        Assert.Null(new FileInfo(link).LinkTarget);
        Assert.Equal((ushort)0x2, ElfProbe.Need(File.ReadAllBytes(link), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(["link.so", "original.so"], temp.Listing());
    }
}
