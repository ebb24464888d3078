using System.Reflection;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Harness;

/// <summary>What the numbers were measured on.</summary>
internal static class Machine
{
    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static string CpuFlags()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
            var flags = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            return string.Join(" ", new[] { "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile" }.Where(flags.Contains));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static string Metadata(string key)
        => typeof(Machine).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value ?? "?";

    public static string TorchSharpVersion()
        => typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
           ?? typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?";

    public static void Print(TextWriter output)
    {
        var table = new FigureTable("Machine", "what", "value");
        table.Add("CPU", CpuModel());
        table.Add("SIMD", CpuFlags());
        table.Add("logical cores", Environment.ProcessorCount);
        table.Add("torch intra-op threads", get_num_threads());
        table.Add("TorchSharp", TorchSharpVersion());
        table.Add("libtorch", Metadata("libtorch"));
        table.Add(".NET", RuntimeInformation.FrameworkDescription);
        table.Add("OS", RuntimeInformation.OSDescription);
        table.Add("load average at start (1/5/15 min)", LoadAverage());
        table.Add("started (UTC)", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture));
        table.Print(output);
    }
}
