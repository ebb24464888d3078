using TokenformerGen.Checkpoints;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Tests.Generated;
using TokenformerGen.Tests.Training;
using TokenformerGen.Training;

namespace TokenformerGen.Tests.Devices;

/// <summary>
/// The device proof without a GPU: on libtorch's meta device operations compute shapes only, and an elementwise op
/// that mixes a meta tensor with a CPU tensor fails with the device-mismatch error a GPU would raise. So a generated
/// model trained, grown and decoded on meta fails here wherever the code creates a tensor on the CPU by mistake. A
/// value cannot be read on meta: a step runs up to its one read (<see cref="Trainer.Compute"/>), evaluation and
/// sampling up to the forward they read from. After every phase, parameters, gradients and optimizer state must be
/// on meta and float32 (the master weights) whatever the precision.
/// </summary>
public sealed class MetaDeviceTests : IDisposable
{
    private static readonly Device Meta = new("meta");
    private readonly string _directory = Directory.CreateTempSubdirectory("tfg-meta-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<Precision> Precisions => new() { Precision.Fp32, Precision.Bf16 };

    private static ComputeTarget OnMeta(Precision precision) => new(Meta, precision);

    private static T Placed<T>(T model, Precision precision) where T : TokenformerModel
    {
        model.Place(OnMeta(precision));
        model.InitializeFromScratch(5);   // drawn on the CPU, copied to the device
        return model;
    }

    private static Tensor Ids(params long[] ids) => tensor(ids, device: Meta).unsqueeze(0);

    // Every parameter, gradient and optimizer moment on meta, float32.
    private static void AssertOnMeta(TokenformerModel model, AdamW? optimizer = null)
    {
        foreach (var (name, parameter) in model.NamedParameters())
        {
            Assert.True(parameter.device_type == DeviceType.META && parameter.dtype == ScalarType.Float32, $"{name}: {parameter.device} {parameter.dtype}");
            if (parameter.grad is { } gradient)
                Assert.True(gradient.device_type == DeviceType.META && gradient.dtype == ScalarType.Float32, $"gradient of {name}: {gradient.device} {gradient.dtype}");
        }
        if (optimizer is null) return;
        foreach (var (name, moment) in optimizer.State().Tensors)
            Assert.True(moment.device_type == DeviceType.META && moment.dtype == ScalarType.Float32, $"{name}: {moment.device} {moment.dtype}");
    }

    [Fact]
    public void MixingAMetaTensorWithACpuTensorFails()
    {
        // The premise of every test here: an elementwise op refuses a CPU operand.
        using var onMeta = zeros([1, 1, 3, 4], device: Meta);
        Assert.Contains("meta and cpu", Assert.ThrowsAny<Exception>(() => onMeta + ones(1, 1, 3, 4)).Message);
        // Indexing and masked_fill accept one silently on meta (matmul and cat too), so the spelt-out lookup and
        // attention check devices as their fused kernels do on a real device: ids a caller forgot to move, or a mask
        // made on the CPU, fail here.
        Assert.Equal(DeviceType.META, onMeta.masked_fill(ones(1, 1, 3, 4, @bool), 0).device_type);
        Assert.Contains("found cpu (attention mask) and meta (queries)",
                        Assert.ThrowsAny<Exception>(() => TokenformerGen.Primitives.Attention.Attend(onMeta, onMeta, onMeta, ones(3, 3, @bool), causal: false)).Message);
        var model = Placed(new SampleSmall(), Precision.Fp32);
        Assert.Contains("found cpu (token ids) and meta (embedding)", Assert.ThrowsAny<Exception>(() => model.call(tensor(new long[] { 1, 2 }).unsqueeze(0))).Message);
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void ForwardAndBackwardRunOnTheDevice(Precision precision)
    {
        var model = Placed(new SampleSmall(), precision);
        AssertOnMeta(model);
        Assert.Equal(precision, model.Precision);
        Assert.Equal(DeviceType.META, model.Device.type);

        var logits = model.call(Ids(1, 2, 3, 4, 5, 6));
        Assert.Equal((DeviceType.META, ScalarType.Float32), (logits.device_type, logits.dtype));
        Assert.Equal([1L, 6, 256], logits.shape);
        using (no_grad())
        {
            var ffn = model.Layers[0].Mlp.call(zeros([1, 6, 16], device: Meta));
            Assert.Equal(precision.ComputeType(), ffn.dtype);   // the Pattention computes in the precision's type
        }

        var loss = nn.functional.cross_entropy(logits.view(-1, 256), tensor(new long[] { 2, 3, 4, 5, 6, 7 }, device: Meta));
        loss.backward();
        AssertOnMeta(model);
        Assert.All(model.NamedParameters(), p => Assert.NotNull(p.Parameter.grad));
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void AStepWithAccumulationClippingAndAdamWRunsUpToItsOneRead(Precision precision)
    {
        var model = Placed(new SampleSmall(), precision);
        var options = new TrainerOptions { Steps = 3, Batch = 2, Context = 16, GradientAccumulation = 2 };
        using var trainer = new Trainer(model, new PatternBatches(40), options);   // CPU batches: the trainer moves them
        AssertOnMeta(model, trainer.Optimizer);
        var (lossSum, gradientNorm) = trainer.Compute(0, 1e-3);
        Assert.Equal((DeviceType.META, ScalarType.Float64), (lossSum.device_type, lossSum.dtype));
        Assert.Equal(DeviceType.META, gradientNorm.device_type);
        Assert.Equal(1, trainer.Optimizer.StepCount);
        AssertOnMeta(model, trainer.Optimizer);
        trainer.Compute(1, 1e-3);
        AssertOnMeta(model, trainer.Optimizer);
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void GrowthInMemoryFillsTheTargetWhereItIs(Precision precision)
    {
        var small = Placed(new SampleSmall(), precision);
        using var trainer = new Trainer(small, new PatternBatches(40), new TrainerOptions { Steps = 1, Batch = 2, Context = 16 });
        trainer.Compute(0, 1e-3);
        foreach (var policy in new[] { GrowthPolicy.ZeroKeys, GrowthPolicy.Random })   // zero rows, and rows drawn on the CPU and copied
        {
            var medium = new SampleMedium().Place(OnMeta(precision));
            var report = StageGrowth.GrowInto(SampleSmallToMedium.Map, small, medium, new GrowthOptions { Policy = policy });
            Assert.Null(report.LossAfter);   // a measure would read a value
            AssertOnMeta(medium);
            using var optimizer = AdamW.Grow(trainer.Optimizer, medium.NamedParameters(), OptimizerGrowthMode.Keep);
            AssertOnMeta(medium, optimizer);
            Assert.Equal([1L, 3, 256], medium.call(Ids(4, 5, 6)).shape);
        }
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void CachedDecodingRunsOnTheDevice(Precision precision)
    {
        var model = Placed(new SampleSmall(), precision);
        model.eval();
        using var _ = no_grad();
        using var cache = model.CreateCache();
        Assert.Equal([1L, 5, 256], model.call(Ids(1, 2, 3, 4, 5), cache).shape);   // prefill: causal
        for (var step = 0; step < 3; step++)
        {
            var logits = model.call(Ids(7), cache);                                // one token over the cache
            Assert.Equal((DeviceType.META, ScalarType.Float32), (logits.device_type, logits.dtype));
            Assert.Equal(6 + step, cache.Length);
        }
        Assert.Equal([1L, 2, 256], model.call(Ids(8, 9), cache).shape);           // a chunk over the cache: masked
        Assert.Equal(10, cache.Length);
        AssertOnMeta(model);
    }

    [Fact]
    public void CheckpointsLoadOntoTheRequestedDevice()
    {
        var cpu = new SampleSmall();
        cpu.InitializeFromScratch(2);
        var options = new TrainerOptions { Steps = 2, Batch = 2, Context = 16 };
        using (var trainer = new Trainer(cpu, new PatternBatches(40), options))
        {
            trainer.Step();
            TrainingCheckpoints.Save(_directory, trainer);
        }
        var path = TrainingCheckpoints.Latest(_directory)!;

        var loaded = new SampleSmall().Place(OnMeta(Precision.Bf16));
        Checkpoint.Load(path, loaded, "Sample", "Small");
        AssertOnMeta(loaded);

        var resumed = new SampleSmall().Place(OnMeta(Precision.Bf16));
        var (optimizer, progress) = TrainingCheckpoints.Resume(path, resumed, options);
        using (optimizer)
        {
            Assert.Equal(1, progress.Step);
            AssertOnMeta(resumed, optimizer);
        }
    }
}
