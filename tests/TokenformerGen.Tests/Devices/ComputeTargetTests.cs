using TokenformerGen.Devices;

namespace TokenformerGen.Tests.Devices;

/// <summary>
/// Reading <c>--device</c> and <c>--precision</c>: what this CPU-bundle build does for real, and what a CUDA build with
/// and without visible devices does, through the probe a CUDA build would answer.
/// </summary>
public class ComputeTargetTests
{
    private static readonly CudaDevices CudaBuildWithTwo = new("cuda-linux", 2);
    private static readonly CudaDevices CudaBuildWithNone = new("cuda-linux", 0);

    private static string Refusal(string device, string precision = "fp32", CudaDevices? cuda = null)
        => Assert.Throws<ComputeTargetException>(() => cuda is null ? ComputeTarget.Resolve(device, precision) : ComputeTarget.Resolve(device, precision, cuda)).Message;

    [Fact]
    public void ThisBuildKnowsItCarriesTheCpuBundle()
    {
        Assert.Equal("cpu-linux-x64", ComputeTarget.Backend);
        Assert.False(cuda.is_available());
    }

    [Fact]
    public void AutoChoosesTheCpuHereAndSaysWhy()
    {
        var target = ComputeTarget.Resolve();
        Assert.Equal(DeviceType.CPU, target.Device.type);
        Assert.Equal(Precision.Fp32, target.Precision);
        Assert.Equal("device cpu (auto: this build uses TorchSharp's CPU bundle), precision fp32", target.ToString());
        Assert.Equal("device cpu (as asked), precision bf16", ComputeTarget.Resolve("CPU", "BF16").ToString());
        Assert.Equal(ScalarType.BFloat16, ComputeTarget.Resolve("cpu", "bf16").ComputeType);
    }

    [Fact]
    public void AutoPrecisionTakesBf16OnlyWhereTheDeviceMultipliesItNatively()
    {
        var avx2 = CpuFeatures.With("avx2", "fma");
        var zen4 = CpuFeatures.With("avx2", "avx512f", "avx512_bf16");
        var sapphire = CpuFeatures.With("avx512f", "amx_bf16", "amx_tile");
        Assert.Equal("device cpu (as asked), precision fp32 (auto: this CPU has no avx512_bf16 or amx_bf16 instructions, so bf16 would be slower than fp32)",
                     ComputeTarget.Resolve("cpu", "auto", avx2).ToString());
        Assert.Equal("device cpu (as asked), precision bf16 (auto: this CPU has avx512_bf16)", ComputeTarget.Resolve("cpu", "AUTO", zen4).ToString());
        Assert.Equal(Precision.Bf16, ComputeTarget.Resolve("cpu", "auto", sapphire).Precision);
        Assert.Equal("device cpu (as asked), precision fp32 (auto: cannot tell whether this CPU multiplies bfloat16 natively)",
                     ComputeTarget.Resolve("cpu", "auto", new CpuFeatures((IReadOnlySet<string>?)null)).ToString());
        Assert.Equal(Precision.Bf16, ComputeTarget.Resolve("auto", "auto", CudaBuildWithTwo, avx2).Precision);   // the GPU decides, not the CPU
        Assert.All(new[] { avx2, zen4 }, cpu => Assert.Null(ComputeTarget.Resolve("cpu", "auto", cpu).Warning));
    }

    [Fact]
    public void Bf16AskedOfACpuWithoutBf16InstructionsWarnsNamingWhatIsMissing()
    {
        var slow = ComputeTarget.Resolve("cpu", "bf16", CpuFeatures.With("avx2"));
        Assert.Equal(Precision.Bf16, slow.Precision);   // still as asked
        Assert.StartsWith("bf16 on this CPU is slow: it has no avx512_bf16 or amx_bf16 instructions", slow.Warning);
        Assert.Null(ComputeTarget.Resolve("cpu", "bf16", CpuFeatures.With("avx512_bf16")).Warning);
        Assert.Null(ComputeTarget.Resolve("cpu", "fp32", CpuFeatures.With("avx2")).Warning);
        Assert.Null(ComputeTarget.Resolve("cuda", "bf16", CudaBuildWithTwo, CpuFeatures.With("avx2")).Warning);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:3")]
    public void CudaOnTheCpuBundleIsOneClearError(string device)
    {
        var message = Refusal(device);
        Assert.Equal($"{device} cannot be used: this build uses TorchSharp's CPU bundle (cpu-linux-x64), which has no CUDA support; build with -p:TorchBackend=cuda-linux (see the README, 'Train on a GPU')", message);
    }

    [Fact]
    public void ACudaBuildChoosesAndNumbersItsDevices()
    {
        var auto = ComputeTarget.Resolve("auto", "bf16", CudaBuildWithTwo);
        Assert.Equal((DeviceType.CUDA, 0), (auto.Device.type, (int)auto.Device.index));
        Assert.Equal("device cuda:0 (auto: 2 CUDA devices are visible), precision bf16", auto.ToString());
        var second = ComputeTarget.Resolve("cuda:1", "fp32", CudaBuildWithTwo);
        Assert.Equal((DeviceType.CUDA, 1), (second.Device.type, (int)second.Device.index));
        Assert.Equal("cuda:0", ComputeTarget.Resolve("cuda", "fp32", CudaBuildWithTwo).DeviceName);
        Assert.Equal("cuda:2 cannot be used: 2 CUDA devices are visible (cuda:0 to cuda:1)", Refusal("cuda:2", cuda: CudaBuildWithTwo));
    }

    [Fact]
    public void ACudaBuildWithoutDevicesFallsBackOnAutoAndRefusesCuda()
    {
        Assert.Equal("device cpu (auto: no CUDA device is visible), precision fp32", ComputeTarget.Resolve("auto", "fp32", CudaBuildWithNone).ToString());
        Assert.Equal("cuda cannot be used: no CUDA device is visible (torch.cuda.is_available() is false); check the NVIDIA driver and CUDA_VISIBLE_DEVICES",
                     Refusal("cuda", cuda: CudaBuildWithNone));
    }

    [Fact]
    public void Fp16IsRefusedWithTheReasonOfTheDevice()
    {
        Assert.StartsWith("fp16 is refused on the CPU: libtorch has no fast float16 kernels there", Refusal("cpu", "fp16"));
        Assert.EndsWith("use bf16, which has them", Refusal("auto", "FP16"));
        Assert.StartsWith("fp16 is refused: float16's narrow range needs loss scaling, which this trainer does not do", Refusal("cuda", "fp16", CudaBuildWithTwo));
    }

    [Theory]
    [InlineData("gpu", "fp32", "device 'gpu' is not one of cpu, cuda, cuda:N or auto")]
    [InlineData("cuda:x", "fp32", "device 'cuda:x': the CUDA device index must be a number, as in cuda:0")]
    [InlineData("cuda:-1", "fp32", "device 'cuda:-1': the CUDA device index must be a number, as in cuda:0")]
    [InlineData("cpu", "int8", "precision 'int8' is not one of fp32, bf16 or auto")]
    public void UnknownSpellingsAreNamed(string device, string precision, string expected) => Assert.Equal(expected, Refusal(device, precision));
}
