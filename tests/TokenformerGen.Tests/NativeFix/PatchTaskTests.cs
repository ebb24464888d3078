using System.Collections;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using TokenformerGen.Build;
using static TokenformerGen.Tests.NativeFix.NativeFixTestSupport;

namespace TokenformerGen.Tests.NativeFix;

/// <summary>The inline MSBuild task, run directly against a recording build engine.</summary>
public class PatchTaskTests
{
    private sealed class RecordingBuildEngine : IBuildEngine
    {
        public List<string> Errors { get; } = [];
        public List<string> Messages { get; } = [];
        public List<string> Warnings { get; } = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "TokenformerGen.Tests.csproj";
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => throw new NotSupportedException();
        public void LogCustomEvent(CustomBuildEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e.Message ?? "");
        public void LogMessageEvent(BuildMessageEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogWarningEvent(BuildWarningEventArgs e) => Warnings.Add(e.Message ?? "");
    }

    private static (bool Result, RecordingBuildEngine Engine) Run(params string[] files)
    {
        var engine = new RecordingBuildEngine();
        var task = new PatchLibTorchSharpGlibcxx
        {
            BuildEngine = engine,
            Files = files.Select(f => (ITaskItem)new TaskItem(f)).ToArray(),
        };
        return (task.Execute(), engine);
    }

    /// <summary>Whether the task will find a system libstdc++ that provides GLIBCXX_3.4.32 (and so do nothing).</summary>
    private static bool SystemProvidesVersion =>
        LibTorchSharpPatchTests.SystemLibstdcxx() is string system && ElfProbe.Definitions(File.ReadAllBytes(system)).Contains(Glibcxx332);

    [Fact]
    public void NoFilesSucceeds()
    {
        var (result, engine) = Run();
        Assert.True(result);
        Assert.Empty(engine.Errors);
    }

    [Fact]
    public void PatchesASyntheticLibraryThenReportsItAlreadyWeak()
    {
        using var temp = new TempFolder();
        string path = temp.File("libLibTorchSharp.so");
        SyntheticElf elf = new SyntheticElfBuilder().Need(Libstdcxx, new NeededVersion("GLIBCXX_3.4.30"), new NeededVersion(Glibcxx332)).Build();
        File.WriteAllBytes(path, elf.Bytes);

        var (result, engine) = Run(path);

        Assert.True(result, string.Join("\n", engine.Errors));
        Assert.Empty(engine.Errors);
        Assert.Empty(engine.Warnings);
        if (SystemProvidesVersion)
        {
            Assert.Equal(elf.Bytes, File.ReadAllBytes(path));
            Assert.Contains(engine.Messages, m => m.Contains("provides " + Glibcxx332, StringComparison.Ordinal));
            return;
        }
        Assert.Equal((ushort)0x2, ElfProbe.Need(File.ReadAllBytes(path), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Contains(path + ": " + WeakPatchResult.Patched, engine.Messages);

        (result, engine) = Run(path);
        Assert.True(result);
        Assert.Contains(path + ": " + WeakPatchResult.AlreadyWeak, engine.Messages);
        Assert.Equal(["libLibTorchSharp.so"], temp.Listing());
    }

    [LinuxX64Fact]
    public void PatchesACopyOfTheRealLibrary()
    {
        string cache = NuGetCacheLibrary();
        string cacheHash = Sha256(cache);
        using var temp = new TempFolder();
        string path = temp.File("libLibTorchSharp.so");
        File.Copy(cache, path);

        var (result, engine) = Run(path);

        Assert.True(result, string.Join("\n", engine.Errors));
        Assert.Empty(engine.Errors);
        ushort expected = SystemProvidesVersion ? (ushort)0 : (ushort)0x2;
        Assert.Equal(expected, ElfProbe.Need(File.ReadAllBytes(path), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(cacheHash, Sha256(cache));
        Assert.Equal(["libLibTorchSharp.so"], temp.Listing());
    }

    [Fact]
    public void CorruptAndMissingFilesFailTheTaskWithAnErrorButTheOthersAreStillPatched()
    {
        if (SystemProvidesVersion) return;   // the task then never opens the files
        using var temp = new TempFolder();
        string corrupt = temp.File("corrupt.so");
        string missing = temp.File("missing.so");
        string good = temp.File("good.so");
        byte[] text = "not a library at all, just some text that is long enough for an ELF header\n"u8.ToArray();
        File.WriteAllBytes(corrupt, text);
        File.WriteAllBytes(good, new SyntheticElfBuilder().Need(Libstdcxx, new NeededVersion(Glibcxx332)).Build().Bytes);

        var (result, engine) = Run(corrupt, missing, good);

        Assert.False(result);
        Assert.Equal(2, engine.Errors.Count);
        Assert.Contains(corrupt, engine.Errors[0]);
        Assert.Contains("not an ELF file", engine.Errors[0]);
        Assert.Contains(missing, engine.Errors[1]);
        Assert.Equal(text, File.ReadAllBytes(corrupt));
        Assert.Equal((ushort)0x2, ElfProbe.Need(File.ReadAllBytes(good), Libstdcxx, Glibcxx332)!.Flags);
        Assert.Equal(["corrupt.so", "good.so"], temp.Listing());
    }
}
