// Compiled twice: by MSBuild's RoslynCodeTaskFactory (TokenformerGen.targets) as an inline build task,
// and into the test project, which checks the ELF routine directly. Keep it dependency-free
// (netstandard2.0 APIs only) so the inline task compiles on every SDK.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace TokenformerGen.Build
{
    /// <summary>The outcome of <see cref="ElfVersionPatcher.MarkVersionNeedWeak"/>.</summary>
    public enum WeakPatchResult
    {
        /// <summary>The vernaux entry existed and was not weak; the file was rewritten.</summary>
        Patched,
        /// <summary>The entry was already weak; the file was not touched.</summary>
        AlreadyWeak,
        /// <summary>The file does not need that version at all; the file was not touched.</summary>
        NotNeeded,
    }

    /// <summary>A file that is not an ELF image this routine understands, or is damaged.</summary>
    public sealed class ElfFormatException : Exception
    {
        /// <summary>Creates the exception for <paramref name="path"/>.</summary>
        public ElfFormatException(string path, string problem) : base(path + ": " + problem) { }
    }

    /// <summary>
    /// Reads and edits the symbol-versioning sections of 64-bit little-endian ELF shared objects.
    /// </summary>
    /// <remarks>
    /// libLibTorchSharp.so 0.107.0 needs GLIBCXX_3.4.32 (GCC 13) for a single iostream-init marker
    /// symbol that has no relocation. Setting VER_FLG_WEAK on that one need lets the dynamic loader
    /// accept an older libstdc++ (Debian 12, Ubuntu 22.04) instead of refusing the whole library.
    /// </remarks>
    public static class ElfVersionPatcher
    {
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlagWeak = 0x2;
        private const int ElfHeaderSize = 64;
        private const int SectionHeaderSize = 64;
        private const int VerneedSize = 16;
        private const int VernauxSize = 16;
        private const int VerdefSize = 20;

        /// <summary>
        /// Sets VER_FLG_WEAK on the need for <paramref name="version"/> from <paramref name="library"/>.
        /// </summary>
        public static WeakPatchResult MarkVersionNeedWeak(string path, string library, string version)
        {
            byte[] image = File.ReadAllBytes(path);
            int flagsOffset = FindVersionNeedFlags(path, image, library, version);
            if (flagsOffset < 0) return WeakPatchResult.NotNeeded;
            ushort flags = ReadU16(image, flagsOffset);
            if ((flags & VerFlagWeak) != 0) return WeakPatchResult.AlreadyWeak;

            // Patch a copy and rename it over the original: a hard link into a package cache is
            // never written through, and an interrupted build leaves the old file or the new one.
            string temp = path + ".tfg-patch-" + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                File.Copy(path, temp);   // keeps the file mode
                using (var stream = new FileStream(temp, FileMode.Open, FileAccess.Write))
                {
                    stream.Position = flagsOffset;
                    stream.WriteByte((byte)(flags | VerFlagWeak));
                    stream.WriteByte((byte)((flags | VerFlagWeak) >> 8));
                    stream.Flush(true);
                }
                File.Replace(temp, path, null);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return WeakPatchResult.Patched;
        }

        /// <summary>True when the ELF file at <paramref name="path"/> defines symbol version <paramref name="version"/>.</summary>
        public static bool DefinesVersion(string path, string version)
        {
            byte[] image = File.ReadAllBytes(path);
            foreach (Section section in ReadSections(path, image))
            {
                if (section.Type != ShtGnuVerdef) continue;
                Section strings = StringTableOf(path, image, section);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    RequireInSection(path, section, entry, VerdefSize, ".gnu.version_d entry");
                    ushort auxCount = ReadU16(image, entry + 6);
                    uint auxOffset = ReadU32(image, entry + 12);
                    uint next = ReadU32(image, entry + 16);
                    if (auxCount > 0)
                    {
                        RequireInSection(path, section, entry + auxOffset, 8, ".gnu.version_d aux entry");
                        string name = ReadString(path, image, strings, ReadU32(image, entry + auxOffset));
                        if (name == version) return true;
                    }
                    if (next == 0) break;
                    entry += next;
                }
            }
            return false;
        }

        /// <summary>
        /// Returns the file offset of <c>vna_flags</c> for the requested need, or -1 when the file
        /// does not need that version. Throws <see cref="ElfFormatException"/> for anything malformed.
        /// </summary>
        public static int FindVersionNeedFlags(string path, byte[] image, string library, string version)
        {
            foreach (Section section in ReadSections(path, image))
            {
                if (section.Type != ShtGnuVerneed) continue;
                Section strings = StringTableOf(path, image, section);
                long need = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    RequireInSection(path, section, need, VerneedSize, ".gnu.version_r entry");
                    ushort auxCount = ReadU16(image, need + 2);
                    string file = ReadString(path, image, strings, ReadU32(image, need + 4));
                    uint auxOffset = ReadU32(image, need + 8);
                    uint next = ReadU32(image, need + 12);
                    long aux = need + auxOffset;
                    for (int a = 0; a < auxCount; a++)
                    {
                        RequireInSection(path, section, aux, VernauxSize, ".gnu.version_r aux entry");
                        string name = ReadString(path, image, strings, ReadU32(image, aux + 8));
                        if (file == library && name == version) return checked((int)(aux + 4));   // vna_flags follows vna_hash
                        uint auxNext = ReadU32(image, aux + 12);
                        if (auxNext == 0) break;
                        aux += auxNext;
                    }
                    if (next == 0) break;
                    need += next;
                }
            }
            return -1;
        }

        private struct Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
        }

        private static List<Section> ReadSections(string path, byte[] image)
        {
            if (image.Length < ElfHeaderSize || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
                throw new ElfFormatException(path, "not an ELF file (bad magic or shorter than an ELF header)");
            if (image[4] != 2) throw new ElfFormatException(path, "unsupported ELF class " + image[4] + " (only 64-bit is understood)");
            if (image[5] != 1) throw new ElfFormatException(path, "unsupported ELF data encoding " + image[5] + " (only little-endian is understood)");

            long tableOffset = (long)ReadU64(image, 0x28);
            ushort entrySize = ReadU16(image, 0x3A);
            ushort count = ReadU16(image, 0x3C);
            if (count == 0) throw new ElfFormatException(path, "no section headers");
            if (entrySize != SectionHeaderSize) throw new ElfFormatException(path, "unexpected section header size " + entrySize);
            Require(path, image, tableOffset, (long)count * SectionHeaderSize, "section header table");

            var sections = new List<Section>(count);
            for (int i = 0; i < count; i++)
            {
                long at = tableOffset + (long)i * SectionHeaderSize;
                var section = new Section
                {
                    Type = ReadU32(image, at + 4),
                    Offset = (long)ReadU64(image, at + 0x18),
                    Size = (long)ReadU64(image, at + 0x20),
                    Link = ReadU32(image, at + 0x28),
                    Info = ReadU32(image, at + 0x2C),
                };
                if (section.Type == ShtGnuVerneed || section.Type == ShtGnuVerdef)
                    Require(path, image, section.Offset, section.Size, "version section #" + i);
                sections.Add(section);
            }
            return sections;
        }

        private static Section StringTableOf(string path, byte[] image, Section versionSection)
        {
            List<Section> all = ReadSections(path, image);
            if (versionSection.Link == 0 || versionSection.Link >= all.Count)
                throw new ElfFormatException(path, "version section links to missing string table #" + versionSection.Link);
            Section strings = all[(int)versionSection.Link];
            Require(path, image, strings.Offset, strings.Size, ".dynstr");
            return strings;
        }

        private static string ReadString(string path, byte[] image, Section strings, uint offset)
        {
            if (offset >= strings.Size) throw new ElfFormatException(path, "string offset " + offset + " outside .dynstr");
            long start = strings.Offset + offset;
            long end = start;
            long limit = strings.Offset + strings.Size;
            while (end < limit && image[end] != 0) end++;
            if (end == limit) throw new ElfFormatException(path, "unterminated string in .dynstr");
            return Encoding.ASCII.GetString(image, (int)start, (int)(end - start));
        }

        private static void Require(string path, byte[] image, long offset, long length, string what)
        {
            if (offset < 0 || length < 0 || offset > image.Length || length > image.Length - offset)
                throw new ElfFormatException(path, what + " lies outside the file (offset " + offset + ", length " + length + ", file size " + image.Length + "): truncated or corrupt");
        }

        // Version entries are chained by relative offsets; a damaged link must not lead the reader
        // (and the 2-byte write that follows) elsewhere in the file, where it would silently give a
        // wrong answer or overwrite unrelated bytes. ReadSections has checked the section lies in the file.
        private static void RequireInSection(string path, Section section, long offset, long length, string what)
        {
            if (offset < section.Offset || length > section.Offset + section.Size - offset)
                throw new ElfFormatException(path, what + " at offset " + offset + " lies outside its section (offset " + section.Offset + ", size " + section.Size + "): corrupt");
        }

        private static ushort ReadU16(byte[] b, long at) { Guard(b, at, 2); return (ushort)(b[at] | b[at + 1] << 8); }
        private static uint ReadU32(byte[] b, long at) { Guard(b, at, 4); return (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24); }
        private static ulong ReadU64(byte[] b, long at) => ReadU32(b, at) | (ulong)ReadU32(b, at + 4) << 32;

        private static void Guard(byte[] b, long at, int size)
        {
            if (at < 0 || at > b.Length - size) throw new ElfFormatException("(image)", "read at offset " + at + " past the end (" + b.Length + " bytes): truncated or corrupt");
        }
    }

    /// <summary>
    /// MSBuild task: after native assets are copied into an output folder, marks the GLIBCXX_3.4.32
    /// need of each copied libLibTorchSharp.so weak, unless the system libstdc++ already provides it.
    /// </summary>
    public sealed class PatchLibTorchSharpGlibcxx : Microsoft.Build.Utilities.Task
    {
        private const string Library = "libstdc++.so.6";
        private const string Version = "GLIBCXX_3.4.32";

        private static readonly string[] SystemLibstdcxx =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };

        /// <summary>The copied native libraries to patch (copies in an output folder, never the package cache).</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            if (Files.Length == 0) return true;
            foreach (string candidate in SystemLibstdcxx)
            {
                if (!File.Exists(candidate)) continue;
                try
                {
                    if (ElfVersionPatcher.DefinesVersion(candidate, Version))
                    {
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, candidate + " provides " + Version + "; libLibTorchSharp.so left as shipped.");
                        return true;
                    }
                }
                catch (Exception e) when (e is ElfFormatException || e is IOException || e is UnauthorizedAccessException)
                {
                    // Unreadable: assume the version is missing. A weak need is harmless where it is present.
                }
                break;
            }

            foreach (Microsoft.Build.Framework.ITaskItem item in Files)
            {
                string path = item.ItemSpec;
                try
                {
                    WeakPatchResult result = ElfVersionPatcher.MarkVersionNeedWeak(path, Library, Version);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, path + ": " + result);
                }
                catch (Exception e) when (e is ElfFormatException || e is IOException || e is UnauthorizedAccessException)
                {
                    Log.LogError("TokenformerGen could not patch " + path + ": " + e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
}
