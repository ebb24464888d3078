using System.Globalization;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace TokenformerGen.Devices;

/// <summary>
/// Where a run computes and in what precision: the one place that reads <c>cpu|cuda|cuda:N|auto</c> and
/// <c>fp32|bf16</c>, refuses what cannot work here with the reason, and says what <c>auto</c> chose and why.
/// Give it to <c>TokenformerModel.Place</c>; the trainer, evaluation, growth and the sampler follow
/// the model's device and precision.
/// </summary>
public sealed class ComputeTarget
{
    /// <summary>The default spelling of the device: CUDA when a device is visible, else the CPU.</summary>
    public const string Auto = "auto";

    /// <summary>Wraps a device and a precision; <paramref name="reason"/> says why this device (shown to users).</summary>
    public ComputeTarget(Device device, Precision precision, string? reason = null)
    {
        Device = device;
        Precision = precision;
        ComputeType = precision.ComputeType();
        Reason = reason ?? "as asked";
    }

    private ComputeTarget(Device device, Precision precision, string reason, string? precisionReason, string? warning) : this(device, precision, reason)
        => (PrecisionReason, Warning) = (precisionReason, warning);

    /// <summary>The CPU in float32: what a model is on when it is created.</summary>
    public static ComputeTarget Cpu { get; } = new(CPU, Precision.Fp32);

    /// <summary>The device of the parameters and of everything computed from them.</summary>
    public Device Device { get; }

    /// <summary>What the forward and backward passes compute in.</summary>
    public Precision Precision { get; }

    /// <summary>The tensor type of <see cref="Precision"/>: float32 or bfloat16.</summary>
    public ScalarType ComputeType { get; }

    /// <summary>Why this device: "as asked", or what <c>auto</c> saw.</summary>
    public string Reason { get; }

    /// <summary>What <c>--precision auto</c> saw, or null when the precision was asked for by name.</summary>
    public string? PrecisionReason { get; }

    /// <summary>One line worth a warning about the choice (bf16 asked of a CPU that does not multiply it natively), or null.</summary>
    public string? Warning { get; }

    /// <summary>The device as the command line spells it: <c>cpu</c>, <c>cuda:0</c>.</summary>
    public string DeviceName => NameOf(Device);

    /// <summary>One line for logs: <c>device cpu (auto: …), precision bf16</c>.</summary>
    public override string ToString() => $"device {DeviceName} ({Reason}), precision {Precision.Name()}{(PrecisionReason is null ? "" : $" ({PrecisionReason})")}";

    /// <summary>The TorchSharp native bundle this runtime was built against (the <c>TorchBackend</c> MSBuild property), e.g. <c>cpu-linux-x64</c>.</summary>
    public static string Backend { get; } =
        typeof(ComputeTarget).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "unknown";

    /// <summary>
    /// Reads <paramref name="device"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>) and <paramref name="precision"/>
    /// (<c>fp32</c>, <c>bf16</c> or <c>auto</c>: bf16 only where the device multiplies it natively) against what this build and machine can do.
    /// </summary>
    /// <exception cref="ComputeTargetException">An unknown spelling, CUDA where it cannot work (a CPU-bundle build, no
    /// device visible, an index past the last device), or fp16.</exception>
    public static ComputeTarget Resolve(string device = Auto, string precision = "fp32") => Resolve(device, precision, CudaDevices.Probe(), CpuFeatures.Probe());

    /// <summary>As <see cref="Resolve(string, string)"/>, for a CPU described by <paramref name="cpu"/> instead of this one's.</summary>
    public static ComputeTarget Resolve(string device, string precision, CpuFeatures cpu) => Resolve(device, precision, CudaDevices.Probe(), cpu);

    /// <summary>As <see cref="Resolve(string, string)"/>, with probes of the build, the devices and the CPU (tests simulate other machines with them).</summary>
    internal static ComputeTarget Resolve(string device, string precision, CudaDevices cuda, CpuFeatures? cpu = null)
    {
        var (chosen, reason) = ChooseDevice(device.Trim().ToLowerInvariant(), cuda);
        cpu ??= CpuFeatures.Probe();
        var text = precision.Trim().ToLowerInvariant();
        if (text == Auto)
        {
            var (auto, why) = AutoPrecision(chosen, cpu);
            return new ComputeTarget(chosen, auto, reason, why, null);
        }
        var parsed = ParsePrecision(text, chosen);
        var warning = parsed == Precision.Bf16 && chosen.type == DeviceType.CPU && !cpu.MultipliesBf16
            ? $"bf16 on this CPU is slow: it has no {CpuFeatures.Bf16Flags} instructions, so libtorch converts every bfloat16 product through float32 (training ran 27x slower than fp32 on an AVX2-only AMD EPYC); use --precision fp32, or auto"
            : null;
        return new ComputeTarget(chosen, parsed, reason, null, warning);
    }

    // bf16 pays only where the hardware multiplies it: a CUDA device, or a CPU with AVX-512 BF16 or AMX.
    private static (Precision Precision, string Reason) AutoPrecision(Device device, CpuFeatures cpu)
    {
        if (device.type == DeviceType.CUDA) return (Precision.Bf16, "auto: a CUDA device multiplies bfloat16 in its tensor cores (compute capability 8.0 and later)");
        if (device.type != DeviceType.CPU) return (Precision.Fp32, "auto: not a CPU or CUDA device");
        return cpu.Flags is null
            ? (Precision.Fp32, "auto: cannot tell whether this CPU multiplies bfloat16 natively")
            : cpu.MultipliesBf16
                ? (Precision.Bf16, $"auto: this CPU has {string.Join(" and ", cpu.Bf16Present)}")
                : (Precision.Fp32, $"auto: this CPU has no {CpuFeatures.Bf16Flags} instructions, so bf16 would be slower than fp32");
    }

    private static (Device Device, string Reason) ChooseDevice(string text, CudaDevices cuda)
    {
        switch (text)
        {
            case "cpu":
                return (CPU, "as asked");
            case Auto when cuda.Count > 0:
                return (new Device(DeviceType.CUDA, 0), $"auto: {Plural(cuda.Count, "CUDA device")} visible");
            case Auto:
                return (CPU, "auto: " + (cuda.IsCpuBundle ? "this build uses TorchSharp's CPU bundle" : "no CUDA device is visible"));
        }
        if (text != "cuda" && !text.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ComputeTargetException($"device '{text}' is not one of cpu, cuda, cuda:N or auto");
        var index = 0;
        if (text.Length > "cuda".Length && !(int.TryParse(text["cuda:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out index)))
            throw new ComputeTargetException($"device '{text}': the CUDA device index must be a number, as in cuda:0");
        if (cuda.IsCpuBundle)
            throw new ComputeTargetException(
                $"{text} cannot be used: this build uses TorchSharp's CPU bundle ({cuda.Backend}), which has no CUDA support; build with -p:TorchBackend=cuda-linux (see the README, 'Train on a GPU')");
        if (cuda.Count == 0)
            throw new ComputeTargetException(
                $"{text} cannot be used: no CUDA device is visible (torch.cuda.is_available() is false); check the NVIDIA driver and CUDA_VISIBLE_DEVICES");
        if (index >= cuda.Count)
            throw new ComputeTargetException($"cuda:{index} cannot be used: {Plural(cuda.Count, "CUDA device")} visible (cuda:0 to cuda:{cuda.Count - 1})");
        return (new Device(DeviceType.CUDA, index), "as asked");
    }

    /// <summary>Reads <c>fp32</c> or <c>bf16</c> (case ignored); <c>fp16</c> is refused with the reason for <paramref name="device"/>.</summary>
    /// <exception cref="ComputeTargetException">Anything else, or fp16.</exception>
    private static Precision ParsePrecision(string text, Device device)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "fp32": return Precision.Fp32;
            case "bf16": return Precision.Bf16;
            case "fp16" when device.type == DeviceType.CPU:
                throw new ComputeTargetException(
                    "fp16 is refused on the CPU: libtorch has no fast float16 kernels there (a 1024³ matmul ran 70 times slower than in fp32, docs/benchmarks.md figure 9); use bf16, which has them");
            case "fp16":
                throw new ComputeTargetException(
                    "fp16 is refused: float16's narrow range needs loss scaling, which this trainer does not do; use bf16 (float32's range, and as fast on GPUs with bf16 tensor cores)");
            default:
                throw new ComputeTargetException($"precision '{text}' is not one of fp32, bf16 or auto");
        }
    }

    /// <summary>A device as the command line spells it: <c>cpu</c>, <c>cuda:0</c>, <c>meta</c>.</summary>
    public static string NameOf(Device device)
        => device.type == DeviceType.CPU ? "cpu" : device.index >= 0 ? $"{device.type.ToString().ToLowerInvariant()}:{device.index}" : device.type.ToString().ToLowerInvariant();

    private static string Plural(int count, string what) => count == 1 ? $"1 {what} is" : $"{count} {what}s are";
}

/// <summary>What CUDA can do here: the native bundle the runtime was built against and the devices visible.</summary>
/// <param name="Backend">The <c>TorchBackend</c> of the build (<c>cpu-linux-x64</c>, <c>cuda-linux</c>).</param>
/// <param name="Count">CUDA devices visible (0 on a CPU bundle).</param>
internal sealed record CudaDevices(string Backend, int Count)
{
    /// <summary>Whether the build carries no CUDA support at all.</summary>
    public bool IsCpuBundle => Backend.StartsWith("cpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>This build and machine.</summary>
    public static CudaDevices Probe()
    {
        // A CPU bundle is not asked at all; only a CUDA build asks the driver.
        var probe = new CudaDevices(ComputeTarget.Backend, 0);
        return probe.IsCpuBundle || !cuda.is_available() ? probe : probe with { Count = cuda.device_count() };
    }
}

/// <summary>What the CPU can multiply natively, read from Linux's <c>/proc/cpuinfo</c> flags (null elsewhere).</summary>
/// <param name="Flags">The CPU's feature flags, or null where they cannot be read.</param>
public sealed record CpuFeatures(IReadOnlySet<string>? Flags)
{
    /// <summary>A CPU with the given flags (as <c>/proc/cpuinfo</c> spells them).</summary>
    public static CpuFeatures With(params string[] flags) => new(flags.ToHashSet(StringComparer.Ordinal));

    /// <summary>The flags that make bfloat16 products native on x86: AVX-512 BF16 and AMX BF16.</summary>
    public static readonly string[] NativeBf16 = ["avx512_bf16", "amx_bf16"];

    /// <summary>How messages name <see cref="NativeBf16"/>.</summary>
    public static string Bf16Flags => string.Join(" or ", NativeBf16);

    /// <summary>Which of <see cref="NativeBf16"/> this CPU has.</summary>
    public IEnumerable<string> Bf16Present => NativeBf16.Where(f => Flags?.Contains(f) == true);

    /// <summary>Whether this CPU multiplies bfloat16 natively.</summary>
    public bool MultipliesBf16 => Bf16Present.Any();

    /// <summary>This machine's CPU.</summary>
    public static CpuFeatures Probe()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return new CpuFeatures((IReadOnlySet<string>?)null);
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return new CpuFeatures(line is null ? null : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal));
        }
        catch (IOException)
        {
            return new CpuFeatures((IReadOnlySet<string>?)null);
        }
    }
}
