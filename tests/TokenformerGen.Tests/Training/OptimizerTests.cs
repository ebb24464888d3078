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
    public void GrowingTheOptimizerKeepsOldMomentsAndZeroesNewRows()
    {
        var small = randn(3, 2).requires_grad_();
        var optimizer = new AdamW([("layers.0.mlp.key_param_tokens", small)]);
        small.sum().backward();
        optimizer.Step(0.01);
        var large = zeros(5, 2).requires_grad_();

        var kept = AdamW.Grow(optimizer, [("layers.0.mlp.key_param_tokens", large)], OptimizerGrowthMode.Keep);
        var state = kept.State().Tensors["exp_avg.layers.0.mlp.key_param_tokens"];
        Assert.Equal(optimizer.State().Tensors["exp_avg.layers.0.mlp.key_param_tokens"].data<float>().ToArray(), state.narrow(0, 0, 3).data<float>().ToArray());
        Assert.Equal(0, state.narrow(0, 3, 2).abs().sum().item<float>());
        Assert.Equal(1, kept.StepCount);

        var reset = AdamW.Grow(optimizer, [("layers.0.mlp.key_param_tokens", large)], OptimizerGrowthMode.Reset);
        Assert.Equal(0, reset.State().Tensors["exp_avg.layers.0.mlp.key_param_tokens"].abs().sum().item<float>());
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
