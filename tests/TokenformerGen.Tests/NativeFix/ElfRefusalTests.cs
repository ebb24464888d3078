using System.Buffers.Binary;
using System.Text;
using TokenformerGen.Build;
using static TokenformerGen.Tests.NativeFix.NativeFixTestSupport;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>
/// Damaged or foreign files are refused with an <see cref="ElfFormatException"/> that names the
/// file and the problem, and a refused call changes nothing on disk.
/// </summary>
public class ElfRefusalTests
{
    private static SyntheticElf Image() => new SyntheticElfBuilder()
        .Define("libself.so").Define("SELF_1.0")
        .Need("libm.so.6", new NeededVersion("GLIBC_2.2.5"))
        .Need(Libstdcxx, new NeededVersion("GLIBCXX_3.4.30"), new NeededVersion(Glibcxx332))
        .Build();

    private static byte[] Corrupt(Action<SyntheticElf, byte[]> damage)
    {
        SyntheticElf elf = Image();
        byte[] bytes = elf.Bytes;
        damage(elf, bytes);
        return bytes;
    }

    private static void WriteU16(byte[] b, long at, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan((int)at), value);
    private static void WriteU32(byte[] b, long at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)at), value);
    private static void WriteU64(byte[] b, long at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((int)at), value);

    /// <summary>Name of the case, the damaged file, and a phrase the error must contain.</summary>
    public static TheoryData<string, byte[], string> DamagedFiles()
    {
        byte[] text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("This is a text file, not a shared library.\n", 4)));
        byte[] full = Image().Bytes;
        var data = new TheoryData<string, byte[], string>
        {
            { "text file", text, "not an ELF file" },
            { "empty file", [], "not an ELF file" },
            { "ELF header cut short", full[..40], "not an ELF file" },
            { "32-bit", Corrupt((_, b) => b[4] = 1), "only 64-bit" },
            { "big-endian", Corrupt((_, b) => b[5] = 2), "only little-endian" },
            { "section header table beyond the end", Corrupt((e, b) => WriteU64(b, 0x28, (ulong)b.Length + 4096)), "section header table lies outside the file" },
            { "section header offset overflows", Corrupt((e, b) => WriteU64(b, 0x28, ulong.MaxValue - 63)), "section header table lies outside the file" },
            { "too many section headers", Corrupt((e, b) => WriteU16(b, 0x3C, 200)), "section header table lies outside the file" },
            { "section header table cut", Image().Bytes[..(int)(Image().SectionHeader(3) + 20)], "section header table lies outside the file" },
            { "no section headers", Corrupt((e, b) => WriteU16(b, 0x3C, 0)), "no section headers" },
            { "odd section header size", Corrupt((e, b) => WriteU16(b, 0x3A, 40)), "section header size 40" },
            { "version section beyond the end", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.VerneedIndex) + 0x18, (ulong)b.Length + 8)), "version section #" },
            { "version section longer than the file", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.VerneedIndex) + 0x20, 1UL << 40)), "version section #" },
            { "version section size negative as long", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.VerneedIndex) + 0x20, ulong.MaxValue)), "version section #" },
            { ".dynstr beyond the end", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.DynstrIndex) + 0x18, (ulong)b.Length + 8)), ".dynstr lies outside the file" },
            { "link to a missing string table", Corrupt((e, b) => WriteU32(b, e.SectionHeader(e.VerneedIndex) + 0x28, 99)), "missing string table #99" },
            { "name outside .dynstr", Corrupt((e, b) => WriteU32(b, e.VerneedOffset + 4, 100_000)), "outside .dynstr" },
            { "unterminated .dynstr", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.DynstrIndex) + 0x20, 3)), ".dynstr" },
            // Chains that leave .gnu.version_r: to past the end of the file, and to elsewhere in it
            // (the section header table), where a write would damage unrelated bytes.
            { "verneed chain past the end", Corrupt((e, b) => WriteU32(b, e.VerneedOffset + 12, 1_000_000)), ".gnu.version_r entry" },
            { "verneed chain leaves the section", Corrupt((e, b) => WriteU32(b, e.VerneedOffset + 12, (uint)(e.SectionHeaderOffset - e.VerneedOffset))), ".gnu.version_r entry" },
            { "vernaux chain leaves the section", Corrupt((e, b) => WriteU32(b, e.VerneedOffset + 8, (uint)(e.SectionHeaderOffset - e.VerneedOffset))), ".gnu.version_r aux entry" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void MarkVersionNeedWeakRefusesDamagedFiles(string why, byte[] content, string problem)
    {
        using var temp = new TempFolder();
        string path = temp.File("damaged.so");
        File.WriteAllBytes(path, content);
        DateTime written = File.GetLastWriteTimeUtc(path);

        var error = Assert.Throws<ElfFormatException>(() => ElfVersionPatcher.MarkVersionNeedWeak(path, Libstdcxx, Glibcxx332));

        Assert.True(error.Message.Contains(problem, StringComparison.Ordinal), why + ": message was: " + error.Message);
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(["damaged.so"], temp.Listing());
    }

    public static TheoryData<string, byte[], string> DamagedDefinitions()
    {
        return new TheoryData<string, byte[], string>
        {
            { "text file", Encoding.ASCII.GetBytes(new string('x', 100)), "not an ELF file" },
            { "verdef section beyond the end", Corrupt((e, b) => WriteU64(b, e.SectionHeader(e.VerdefIndex) + 0x18, (ulong)b.Length)), "version section #" },
            { "verdef chain past the end", Corrupt((e, b) => WriteU32(b, e.VerdefOffset + 16, 1_000_000)), ".gnu.version_d entry" },
            { "verdef chain leaves the section", Corrupt((e, b) => WriteU32(b, e.VerdefOffset + 16, (uint)(e.SectionHeaderOffset - e.VerdefOffset))), ".gnu.version_d entry" },
            { "verdaux outside the section", Corrupt((e, b) => WriteU32(b, e.VerdefOffset + 12, (uint)(e.SectionHeaderOffset - e.VerdefOffset))), ".gnu.version_d aux entry" },
            { "verdaux name outside .dynstr", Corrupt((e, b) => WriteU32(b, e.VerdefOffset + 20, 100_000)), "outside .dynstr" },
        };
    }

    [Theory]
    [MemberData(nameof(DamagedDefinitions))]
    public void DefinesVersionRefusesDamagedFiles(string why, byte[] content, string problem)
    {
        using var temp = new TempFolder();
        string path = temp.File("damaged.so");
        File.WriteAllBytes(path, content);

        var error = Assert.Throws<ElfFormatException>(() => ElfVersionPatcher.DefinesVersion(path, "NOT_THERE_1.0"));

        Assert.True(error.Message.Contains(problem, StringComparison.Ordinal), why + ": message was: " + error.Message);
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Equal(["damaged.so"], temp.Listing());
    }
}
