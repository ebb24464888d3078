using TokenformerGen.Training;

namespace TokenformerGen.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void ScheduleWarmsUpLinearlyThenDecaysByCosineToTenPercent()
    {
        var schedule = new LearningRateSchedule(Peak: 1.0, TotalSteps: 110, WarmupSteps: 10);
        Assert.Equal(0.1, schedule.At(0), 12);
        Assert.Equal(1.0, schedule.At(9), 12);
        Assert.Equal(1.0, schedule.At(10), 12);
        Assert.Equal(0.1 + 0.9 * 0.5, schedule.At(60), 12);          // half way: cos(π/2) = 0
        Assert.Equal(0.1, schedule.At(110), 12);
        Assert.Equal(0.1, schedule.At(500), 12);                      // stays at the floor
        Assert.Equal(1, LearningRateSchedule.WithWarmupShare(6e-4, 50, 0.01).WarmupSteps);
    }

    [Fact]
    public void AdamWMatchesAFloat64ReferenceAndSkipsDecayOnVectors()
    {
        var matrix = tensor(new double[] { 0.5, -1.0, 2.0, 0.25 }, [2, 2]).requires_grad_();
        var vector = tensor(new double[] { 1.0, -2.0 }).requires_grad_();
        var optimizer = new AdamW([("m", matrix), ("v", vector)], beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1);
        Assert.Equal(["m"], optimizer.DecayedParameters);

        // Reference: three steps with fixed gradients g_t = (t + 1) · c, written out from the AdamW formulas.
        double[] m = [0.5, -1.0, 2.0, 0.25], v = [1.0, -2.0];
        double[] cm = [0.3, -0.1, 0.2, 1.0], cv = [-0.5, 0.05];
        var (m1, m2, v1, v2) = (new double[4], new double[4], new double[2], new double[2]);
        double[] lrs = [0.1, 0.05, 0.02];
        for (var t = 1; t <= 3; t++)
        {
            using (no_grad())
            {
                matrix.grad?.zero_();
                vector.grad?.zero_();
            }
            (matrix * tensor(cm, [2, 2]) * t).sum().backward();
            (vector * tensor(cv) * t).sum().backward();
            optimizer.Step(lrs[t - 1]);

            void Reference(double[] p, double[] c, double[] a, double[] b, bool decay)
            {
                for (var i = 0; i < p.Length; i++)
                {
                    var g = c[i] * t;
                    if (decay) p[i] *= 1 - lrs[t - 1] * 0.1;
                    a[i] = 0.9 * a[i] + 0.1 * g;
                    b[i] = 0.95 * b[i] + 0.05 * g * g;
                    var aHat = a[i] / (1 - Math.Pow(0.9, t));
                    var bHat = b[i] / (1 - Math.Pow(0.95, t));
                    p[i] -= lrs[t - 1] * aHat / (Math.Sqrt(bHat) + 1e-8);
                }
            }
            Reference(m, cm, m1, m2, decay: true);
            Reference(v, cv, v1, v2, decay: false);
        }
        Assert.Equal(m, matrix.data<double>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(v, vector.data<double>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(3, optimizer.StepCount);
    }

    [Fact]
    public void TheFusedFloat32UpdateMatchesAFloat64ReferenceWithAGradientScaleOnEveryThreadCount()
    {
        // A matrix large enough to be split into chunks across threads, a vector updated inline, and a view (a row range
        // of a larger tensor) to check that the storage offset is honoured.
        const int rows = 300, columns = 500;
        using var generator = new Generator(5);
        var start = randn([rows, columns], generator: generator);
        var gradients = Enumerable.Range(0, 3).Select(_ => randn([rows, columns], generator: generator)).ToArray();
        var vectorStart = randn([7], generator: generator);
        var vectorGradients = Enumerable.Range(0, 3).Select(_ => randn([7], generator: generator)).ToArray();
        double[] lrs = [0.1, 0.05, 0.02], scales = [0.5, 1, 0.25];

        float[] Run(int threads, out float[] vectorResult)
        {
            var previous = get_num_threads();
            set_num_threads(threads);
            try
            {
                using var backing = zeros(rows + 2, columns);
                var matrix = backing.narrow(0, 1, rows);
                matrix.copy_(start);
                var vector = vectorStart.clone();
                matrix.requires_grad_();
                vector.requires_grad_();
                using var optimizer = new AdamW([("m", matrix), ("v", vector)], beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1);
                for (var t = 0; t < 3; t++)
                {
                    matrix.grad = gradients[t].clone();
                    vector.grad = vectorGradients[t].clone();
                    using var scale = tensor((float)scales[t]);
                    optimizer.Step(lrs[t], scale);
                }
                vectorResult = vector.detach().data<float>().ToArray();
                return matrix.detach().contiguous().data<float>().ToArray();
            }
            finally
            {
                set_num_threads(previous);
            }
        }

        double[] Reference(Tensor initial, Tensor[] grads, bool decay)
        {
            var p = initial.to(ScalarType.Float64).data<double>().ToArray();
            var (a, b) = (new double[p.Length], new double[p.Length]);
            for (var t = 1; t <= 3; t++)
            {
                var g = grads[t - 1].to(ScalarType.Float64).data<double>().ToArray();
                for (var i = 0; i < p.Length; i++)
                {
                    var gi = g[i] * scales[t - 1];
                    if (decay) p[i] *= 1 - lrs[t - 1] * 0.1;
                    a[i] = 0.9 * a[i] + 0.1 * gi;
                    b[i] = 0.95 * b[i] + 0.05 * gi * gi;
                    p[i] -= lrs[t - 1] * (a[i] / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(b[i] / (1 - Math.Pow(0.95, t))) + 1e-8);
                }
            }
            return p;
        }

        var one = Run(1, out var vectorOne);
        var two = Run(2, out var vectorTwo);
        Assert.Equal(one, two);                   // elements are independent: the split between threads changes nothing
        Assert.Equal(vectorOne, vectorTwo);
        var expected = Reference(start, gradients, decay: true);
        var expectedVector = Reference(vectorStart, vectorGradients, decay: false);
        for (var i = 0; i < expected.Length; i++) Assert.True(Math.Abs(one[i] - expected[i]) <= 2e-6 * (1 + Math.Abs(expected[i])), $"element {i}: {one[i]} vs {expected[i]}");
        for (var i = 0; i < expectedVector.Length; i++) Assert.True(Math.Abs(vectorOne[i] - expectedVector[i]) <= 2e-6 * (1 + Math.Abs(expectedVector[i])));
    }

    [Fact]
    public void ZeroGradDropsTheGradientsSoTheNextBackwardStoresRatherThanAdds()
    {
        var w = tensor(new float[] { 1, 2 }).requires_grad_();
        using var optimizer = new AdamW([("w", w)]);
        (w * 3).sum().backward();
        optimizer.ZeroGrad();
        Assert.Null(w.grad);
        (w * 5).sum().backward();
        Assert.Equal([5f, 5f], w.grad!.data<float>().ToArray());
    }

    [Fact]
    public void AScheduleSharedByStagesStartsWhereTheLastStageEndedAndCanRampUpAgain()
    {
        // One curve over 110 steps: a stage that starts at step 60 gets the curve's values from there on.
        var shared = new LearningRateSchedule(Peak: 1.0, TotalSteps: 110, WarmupSteps: 10) { StartStep = 60 };
        Assert.Equal(0.1 + 0.9 * 0.5, shared.At(0), 12);                                   // curve step 60
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 55 / 100)), shared.At(5), 12);   // curve step 65
        Assert.Equal(0.1, shared.At(50), 12);

        // A re-warmup over 4 steps scales the curve by 1/4, 2/4, 3/4, then leaves it alone.
        var rewarm = shared with { RewarmSteps = 4 };
        double Curve(long s) => 0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * (s - 10) / 100));
        Assert.Equal(Curve(60) / 4, rewarm.At(0), 12);
        Assert.Equal(Curve(62) * 3 / 4, rewarm.At(2), 12);
        Assert.Equal(Curve(64), rewarm.At(4), 12);
    }

    [Fact]
    public void GrowingTheOptimizerKeepsOldMomentsAndStartsNewRowsAsEachModeSays()
    {
        const string name = "layers.0.mlp.key_param_tokens";
        var small = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]).requires_grad_();
        var optimizer = new AdamW([(name, small)]);
        // One step with gradient g = [[1, -2], [3, 0.5], [-1, 4]]: exp_avg = 0.1 g, exp_avg_sq = 0.05 g².
        small.grad = tensor(new float[] { 1, -2, 3, 0.5f, -1, 4 }, [3, 2]);
        optimizer.Step(0.01);
        var large = zeros(5, 2).requires_grad_();
        float[] oldAvg = [0.1f, -0.2f, 0.3f, 0.05f, -0.1f, 0.4f];
        float[] oldSq = [0.05f, 0.2f, 0.45f, 0.0125f, 0.05f, 0.8f];

        float[] Moment(AdamW o, string kind) => o.State().Tensors[$"{kind}.{name}"].data<float>().ToArray();
        void Near(float[] expected, float[] actual) => Assert.Equal(expected, actual, (a, b) => Math.Abs(a - b) < 1e-7);

        // keep: new rows' first moment zero, second moment the column mean of the old rows' ((0.05+0.45+0.05)/3, (0.2+0.0125+0.8)/3).
        using var kept = AdamW.Grow(optimizer, [(name, large)], OptimizerGrowthMode.Keep);
        Near([.. oldAvg, 0, 0, 0, 0], Moment(kept, "exp_avg"));
        var columnMean = new[] { 0.55f / 3, 1.0125f / 3 };
        Near([.. oldSq, .. columnMean, .. columnMean], Moment(kept, "exp_avg_sq"));
        Assert.Equal(1, kept.StepCount);

        // keep-zero: new rows' moments zero; the step count carries on.
        using var keptZero = AdamW.Grow(optimizer, [(name, large)], OptimizerGrowthMode.KeepZero);
        Near([.. oldAvg, 0, 0, 0, 0], Moment(keptZero, "exp_avg"));
        Near([.. oldSq, 0, 0, 0, 0], Moment(keptZero, "exp_avg_sq"));
        Assert.Equal(1, keptZero.StepCount);

        // reset: everything zero, a fresh step count.
        using var reset = AdamW.Grow(optimizer, [(name, large)], OptimizerGrowthMode.Reset);
        Assert.All(Moment(reset, "exp_avg").Concat(Moment(reset, "exp_avg_sq")), v => Assert.Equal(0, v));
        Assert.Equal(0, reset.StepCount);
    }

    [Fact]
    public void LoadRefusesMismatchedState()
    {
        var optimizer = new AdamW([("w", zeros(2, 2).requires_grad_())]);
        var e = Assert.Throws<InvalidDataException>(() => optimizer.Load(new Dictionary<string, Tensor> { ["exp_avg.w"] = zeros(3, 2) }, 1));
        Assert.Contains("exp_avg.w: [3, 2] but the parameter is [2, 2]", e.Message);
        Assert.Contains("exp_avg_sq.w: missing", e.Message);
    }
}
