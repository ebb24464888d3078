using System.Buffers.Binary;
using System.Text;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>One version a synthetic image needs from a library (a vernaux entry).</summary>
public sealed record NeededVersion(string Name, ushort Flags = 0);

/// <summary>A library a synthetic image needs versions from (a verneed entry).</summary>
public sealed record NeededLibrary(string File, params NeededVersion[] Versions);

/// <summary>
/// Builds a minimal ELF64 little-endian shared object by hand, straight from the ELF64 and the
/// LSB symbol-versioning layouts, without any code of the patcher under test. The image has no
/// program headers and no code: an ELF header, a <c>.dynstr</c>, an optional
/// <c>.gnu.version_r</c> and <c>.gnu.version_d</c>, a <c>.shstrtab</c> and the section header
/// table at the end (where linkers put it too). Every offset a test needs to check or corrupt is
/// recorded while writing.
/// </summary>
public sealed class SyntheticElfBuilder
{
    public const uint ShtStrtab = 3;
    public const uint ShtGnuVerdef = 0x6ffffffd;
    public const uint ShtGnuVerneed = 0x6ffffffe;

    private readonly List<NeededLibrary> needs = [];
    private readonly List<string> definitions = [];

    /// <summary>Adds a verneed entry with its vernaux entries, in order.</summary>
    public SyntheticElfBuilder Need(string file, params NeededVersion[] versions)
    {
        needs.Add(new NeededLibrary(file, versions));
        return this;
    }

    /// <summary>Adds a verdef entry (the first one added is the base/soname entry).</summary>
    public SyntheticElfBuilder Define(string version)
    {
        definitions.Add(version);
        return this;
    }

    public SyntheticElf Build()
    {
        // .dynstr: offset 0 is the empty string; every name is stored once.
        var dynstr = new MemoryStream();
        dynstr.WriteByte(0);
        var names = new Dictionary<string, uint>(StringComparer.Ordinal);
        uint Str(string s)
        {
            if (names.TryGetValue(s, out uint at)) return at;
            at = (uint)dynstr.Length;
            byte[] bytes = Encoding.ASCII.GetBytes(s);
            dynstr.Write(bytes);
            dynstr.WriteByte(0);
            names[s] = at;
            return at;
        }
        foreach (NeededLibrary need in needs)
        {
            Str(need.File);
            foreach (NeededVersion v in need.Versions) Str(v.Name);
        }
        foreach (string d in definitions) Str(d);

        // .gnu.version_r: Elf64_Verneed (16 bytes) followed by its Elf64_Vernaux entries (16 bytes each).
        var verneed = new List<byte>();
        var flagsInSection = new Dictionary<(string, string), int>();
        ushort versionIndex = (ushort)(definitions.Count + 1);   // indexes 0/1 are local/global; verdefs come first
        for (int n = 0; n < needs.Count; n++)
        {
            NeededLibrary need = needs[n];
            int size = 16 + 16 * need.Versions.Length;
            var entry = new byte[16];
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(0), 1);                           // vn_version
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(2), (ushort)need.Versions.Length); // vn_cnt
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4), Str(need.File));              // vn_file
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), need.Versions.Length == 0 ? 0u : 16u); // vn_aux
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(12), n == needs.Count - 1 ? 0u : (uint)size); // vn_next
            verneed.AddRange(entry);
            for (int a = 0; a < need.Versions.Length; a++)
            {
                NeededVersion v = need.Versions[a];
                var aux = new byte[16];
                BinaryPrimitives.WriteUInt32LittleEndian(aux.AsSpan(0), ElfHash(v.Name));     // vna_hash
                BinaryPrimitives.WriteUInt16LittleEndian(aux.AsSpan(4), v.Flags);             // vna_flags
                BinaryPrimitives.WriteUInt16LittleEndian(aux.AsSpan(6), ++versionIndex);      // vna_other
                BinaryPrimitives.WriteUInt32LittleEndian(aux.AsSpan(8), Str(v.Name));         // vna_name
                BinaryPrimitives.WriteUInt32LittleEndian(aux.AsSpan(12), a == need.Versions.Length - 1 ? 0u : 16u); // vna_next
                flagsInSection[(need.File, v.Name)] = verneed.Count + 4;
                verneed.AddRange(aux);
            }
        }

        // .gnu.version_d: Elf64_Verdef (20 bytes) followed by one Elf64_Verdaux (8 bytes).
        var verdef = new List<byte>();
        for (int d = 0; d < definitions.Count; d++)
        {
            var entry = new byte[28];
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(0), 1);                        // vd_version
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(2), d == 0 ? (ushort)1 : (ushort)0); // vd_flags: VER_FLG_BASE
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(4), (ushort)(d + 1));          // vd_ndx
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(6), 1);                        // vd_cnt
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), ElfHash(definitions[d]));  // vd_hash
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(12), 20);                      // vd_aux
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(16), d == definitions.Count - 1 ? 0u : 28u); // vd_next
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(20), Str(definitions[d]));     // vda_name
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(24), 0);                       // vda_next
            verdef.AddRange(entry);
        }

        // Section list: [0] SHN_UNDEF, [1] .dynstr, then the version sections, then .shstrtab.
        var sections = new List<(string Name, uint Type, byte[] Data, uint Link, uint Info, ulong Align)>
        {
            (".dynstr", ShtStrtab, dynstr.ToArray(), 0, 0, 1),
        };
        if (needs.Count > 0) sections.Add((".gnu.version_r", ShtGnuVerneed, verneed.ToArray(), 1, (uint)needs.Count, 8));
        if (definitions.Count > 0) sections.Add((".gnu.version_d", ShtGnuVerdef, verdef.ToArray(), 1, (uint)definitions.Count, 8));
        var shstrtab = new MemoryStream();
        shstrtab.WriteByte(0);
        var sectionNames = new List<uint>();
        foreach (var s in sections.Select(s => s.Name).Append(".shstrtab"))
        {
            sectionNames.Add((uint)shstrtab.Length);
            shstrtab.Write(Encoding.ASCII.GetBytes(s));
            shstrtab.WriteByte(0);
        }
        sections.Add((".shstrtab", ShtStrtab, shstrtab.ToArray(), 0, 0, 1));

        // File layout: header, section contents (each aligned), section header table (8-aligned).
        var file = new MemoryStream();
        file.Write(new byte[64]);
        var offsets = new List<long>();
        foreach (var s in sections)
        {
            Pad(file, (int)s.Align);
            offsets.Add(file.Length);
            file.Write(s.Data);
        }
        Pad(file, 8);
        long shoff = file.Length;
        file.Write(new byte[64]);   // section 0, SHN_UNDEF: all zero
        for (int i = 0; i < sections.Count; i++)
        {
            var s = sections[i];
            var sh = new byte[64];
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(0x00), sectionNames[i]);           // sh_name
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(0x04), s.Type);                    // sh_type
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x08), s.Name == ".shstrtab" ? 0ul : 2ul); // sh_flags: SHF_ALLOC
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x10), 0);                         // sh_addr
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x18), (ulong)offsets[i]);         // sh_offset
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x20), (ulong)s.Data.Length);      // sh_size
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(0x28), s.Link);                    // sh_link
            BinaryPrimitives.WriteUInt32LittleEndian(sh.AsSpan(0x2C), s.Info);                    // sh_info
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x30), s.Align);                   // sh_addralign
            BinaryPrimitives.WriteUInt64LittleEndian(sh.AsSpan(0x38), 0);                         // sh_entsize
            file.Write(sh);
        }

        byte[] image = file.ToArray();
        Span<byte> h = image.AsSpan(0, 64);
        h[0] = 0x7f; h[1] = (byte)'E'; h[2] = (byte)'L'; h[3] = (byte)'F';
        h[4] = 2;   // EI_CLASS: ELFCLASS64
        h[5] = 1;   // EI_DATA: ELFDATA2LSB
        h[6] = 1;   // EI_VERSION: EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x10..], 3);                         // e_type: ET_DYN
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x12..], 62);                        // e_machine: EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(h[0x14..], 1);                         // e_version
        BinaryPrimitives.WriteUInt64LittleEndian(h[0x28..], (ulong)shoff);              // e_shoff
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x34..], 64);                        // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x3A..], 64);                        // e_shentsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x3C..], (ushort)(sections.Count + 1)); // e_shnum
        BinaryPrimitives.WriteUInt16LittleEndian(h[0x3E..], (ushort)sections.Count);    // e_shstrndx: last

        int IndexOf(string name) => sections.FindIndex(s => s.Name == name) + 1;
        int verneedIndex = IndexOf(".gnu.version_r");
        long verneedOffset = verneedIndex > 0 ? offsets[verneedIndex - 1] : -1;
        int verdefIndex = IndexOf(".gnu.version_d");
        return new SyntheticElf(
            image,
            shoff,
            dynstrIndex: 1,
            dynstrOffset: offsets[0],
            verneedIndex: verneedIndex,
            verneedOffset: verneedOffset,
            verdefIndex: verdefIndex,
            verdefOffset: verdefIndex > 0 ? offsets[verdefIndex - 1] : -1,
            flagsOffsets: flagsInSection.ToDictionary(p => p.Key, p => (int)(verneedOffset + p.Value)));
    }

    /// <summary>The System V ABI hash used for vna_hash / vd_hash.</summary>
    public static uint ElfHash(string name)
    {
        uint h = 0;
        foreach (byte c in Encoding.ASCII.GetBytes(name))
        {
            h = (h << 4) + c;
            uint g = h & 0xf0000000;
            if (g != 0) h ^= g >> 24;
            h &= ~g;
        }
        return h;
    }

    private static void Pad(MemoryStream stream, int alignment)
    {
        while (stream.Length % alignment != 0) stream.WriteByte(0);
    }
}

/// <summary>A built synthetic image with the offsets the tests need.</summary>
public sealed class SyntheticElf(
    byte[] image, long sectionHeaderOffset, int dynstrIndex, long dynstrOffset,
    int verneedIndex, long verneedOffset, int verdefIndex, long verdefOffset,
    IReadOnlyDictionary<(string Library, string Version), int> flagsOffsets)
{
    /// <summary>A fresh copy of the file bytes.</summary>
    public byte[] Bytes => (byte[])image.Clone();
    public long SectionHeaderOffset { get; } = sectionHeaderOffset;
    public int DynstrIndex { get; } = dynstrIndex;
    public long DynstrOffset { get; } = dynstrOffset;
    /// <summary>Section index of .gnu.version_r, 0 when there is none.</summary>
    public int VerneedIndex { get; } = verneedIndex;
    public long VerneedOffset { get; } = verneedOffset;
    /// <summary>Section index of .gnu.version_d, 0 when there is none.</summary>
    public int VerdefIndex { get; } = verdefIndex;
    public long VerdefOffset { get; } = verdefOffset;
    /// <summary>File offset of each vernaux's vna_flags, by (library, version).</summary>
    public IReadOnlyDictionary<(string Library, string Version), int> FlagsOffsets { get; } = flagsOffsets;

    /// <summary>File offset of the section header of section <paramref name="index"/>.</summary>
    public long SectionHeader(int index) => SectionHeaderOffset + 64L * index;
}
