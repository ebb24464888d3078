using TokenformerGen.Growth;
using static TorchSharp.torch;

namespace TokenformerGen.Training;

/// <summary>How optimizer state follows a growth (parameters grow along axis 0: new parameter tokens are appended rows).</summary>
public enum OptimizerGrowthMode
{
    /// <summary>
    /// Old rows keep their moments and the step count carries on; each new row starts with a zero first moment and,
    /// as its second moment, the mean of the old rows' second moments (per column), so its first updates are scaled
    /// like the old rows' and grow as its first moment builds up (about 1/(1 − β₁) steps).
    /// </summary>
    Keep,
    /// <summary>
    /// Old rows keep their moments and the step count carries on; new rows' moments start at zero. With the bias
    /// correction already near 1, a new row's first update is about 0.45 · lr · sign(gradient) and close to a full
    /// Adam step within a few steps.
    /// </summary>
    KeepZero,
    /// <summary>All moments start again at zero with a fresh step count (the first update of every parameter is lr · sign(gradient)).</summary>
    Reset,
}

/// <summary>
/// AdamW with decoupled weight decay, with its state held as named tensors so it can be saved,
/// restored exactly and grown with the model. Norm parameters (1-D tensors) are not decayed.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, Tensor Parameter, bool Decay)> _parameters;
    private readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _moments = new();

    /// <summary>Creates the optimizer over <paramref name="namedParameters"/>.</summary>
    public AdamW(IEnumerable<(string Name, Tensor Parameter)> namedParameters, double beta1 = 0.9, double beta2 = 0.95,
                 double epsilon = 1e-8, double weightDecay = 0.1)
    {
        _parameters = namedParameters.Select(p => (p.Name, p.Parameter, Decay: p.Parameter.dim() > 1)).ToList();
        (Beta1, Beta2, Epsilon, WeightDecay) = (beta1, beta2, epsilon, weightDecay);
        foreach (var (name, parameter, _) in _parameters)
            _moments[name] = (zeros_like(parameter).DetachFromDisposeScope(), zeros_like(parameter).DetachFromDisposeScope());
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε added to the denominator.</summary>
    public double Epsilon { get; }

    /// <summary>Decoupled weight decay of matrices.</summary>
    public double WeightDecay { get; }

    /// <summary>Optimizer steps taken (the t of the bias corrections).</summary>
    public long StepCount { get; private set; }

    /// <summary>Names of the parameters that are decayed.</summary>
    public IEnumerable<string> DecayedParameters => _parameters.Where(p => p.Decay).Select(p => p.Name);

    /// <summary>
    /// One update at learning rate <paramref name="learningRate"/> from the parameters' gradients, each first multiplied by
    /// <paramref name="gradientScale"/> when one is given (a 0-dim tensor on the parameters' device: the clipping
    /// coefficient). Float32 parameters on the CPU are updated in one fused pass each; others by tensor operations.
    /// </summary>
    public void Step(double learningRate, Tensor? gradientScale = null)
    {
        StepCount++;
        var correction1 = 1 - Math.Pow(Beta1, StepCount);
        var correction2 = 1 - Math.Pow(Beta2, StepCount);
        using var _ = no_grad();
        float? cpuScale = null;
        foreach (var (name, parameter, decay) in _parameters)
        {
            using var gradient = parameter.grad;
            if (gradient is null) continue;
            var (expAvg, expAvgSq) = _moments[name];
            var decayFactor = decay && WeightDecay > 0 ? 1 - learningRate * WeightDecay : 1;
            if (FusedAdamWUpdate.Applies(parameter, gradient, expAvg, expAvgSq))
            {
                cpuScale ??= gradientScale?.item<float>() ?? 1f;   // a CPU tensor: reading it costs no synchronisation
                FusedAdamWUpdate.Apply(parameter, gradient, expAvg, expAvgSq,
                    new AdamWScalars(cpuScale.Value, (float)decayFactor, (float)Beta1, (float)Beta2, (float)(1 - Beta1), (float)(1 - Beta2), (float)Math.Sqrt(correction2), (float)Epsilon, (float)(learningRate / correction1)));
                continue;
            }
            if (gradientScale is not null) gradient.mul_(gradientScale);
            if (decayFactor != 1) parameter.mul_(decayFactor);
            expAvg.mul_(Beta1).add_(gradient, 1 - Beta1);
            expAvgSq.mul_(Beta2).addcmul_(gradient, gradient, 1 - Beta2);
            using var root = expAvgSq.sqrt();
            using var denominator = root.div_(Math.Sqrt(correction2)).add_(Epsilon);
            parameter.addcdiv_(expAvg, denominator, -learningRate / correction1);
        }
    }

    /// <summary>
    /// Drops every gradient (as PyTorch's <c>zero_grad(set_to_none=True)</c>): the next backward pass then stores its
    /// gradients instead of adding them to zeros, one pass over the parameters' size fewer, and none to clear them.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var (_, parameter, _) in _parameters) parameter.grad = null;
    }

    /// <summary>The state as named tensors (<c>exp_avg.{name}</c>, <c>exp_avg_sq.{name}</c>) plus the step count.</summary>
    public (IReadOnlyDictionary<string, Tensor> Tensors, long StepCount) State()
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, (expAvg, expAvgSq)) in _moments)
        {
            tensors[$"exp_avg.{name}"] = expAvg;
            tensors[$"exp_avg_sq.{name}"] = expAvgSq;
        }
        return (tensors, StepCount);
    }

    /// <summary>Restores a state saved by <see cref="State"/>; every tensor must be present with the parameter's shape.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> tensors, long stepCount)
    {
        var problems = new List<string>();
        foreach (var (name, parameter, _) in _parameters)
        {
            foreach (var key in new[] { $"exp_avg.{name}", $"exp_avg_sq.{name}" })
            {
                if (!tensors.TryGetValue(key, out var t)) problems.Add($"{key}: missing");
                else if (!t.shape.SequenceEqual(parameter.shape)) problems.Add($"{key}: {Shapes.Format(t.shape)} but the parameter is {Shapes.Format(parameter.shape)}");
            }
        }
        if (problems.Count > 0) throw new InvalidDataException("Optimizer state does not match the model:" + Environment.NewLine + string.Join(Environment.NewLine, problems));
        using var _ = no_grad();
        foreach (var (name, (expAvg, expAvgSq)) in _moments)
        {
            expAvg.copy_(tensors[$"exp_avg.{name}"]);
            expAvgSq.copy_(tensors[$"exp_avg_sq.{name}"]);
        }
        StepCount = stepCount;
    }

    /// <summary>
    /// A fresh optimizer over the grown model's parameters, its state carried over from <paramref name="previous"/>
    /// as <paramref name="mode"/> says (see <see cref="OptimizerGrowthMode"/>).
    /// </summary>
    /// <param name="previous">The trained stage's optimizer.</param>
    /// <param name="grownParameters">The grown model's parameters.</param>
    /// <param name="mode">What carries over.</param>
    /// <param name="sourceOf">The trained parameter each grown one copies (a growth map's <c>SourceName</c>: another block's
    /// for a stacked copy, null for a new block's parameter, whose moments start at zero in every mode); default: the same name.</param>
    /// <exception cref="GrowthException">A parameter has no source the previous optimizer tracked, or grew along an axis other than 0.</exception>
    public static AdamW Grow(AdamW previous, IEnumerable<(string Name, Tensor Parameter)> grownParameters, OptimizerGrowthMode mode, Func<string, string?>? sourceOf = null)
    {
        var grown = new AdamW(grownParameters, previous.Beta1, previous.Beta2, previous.Epsilon, previous.WeightDecay);
        if (mode == OptimizerGrowthMode.Reset) return grown;
        using var _ = no_grad();
        foreach (var (name, (expAvg, expAvgSq)) in grown._moments)
        {
            var source = sourceOf is null ? name : sourceOf(name);
            if (source is null) continue;
            if (!previous._moments.TryGetValue(source, out var old))
                throw new GrowthException($"{name}: the grown model has a parameter the previous optimizer did not track.");
            CopyIntoFirstRows(expAvg, old.ExpAvg, $"exp_avg.{name}");
            CopyIntoFirstRows(expAvgSq, old.ExpAvgSq, $"exp_avg_sq.{name}");
            var oldRows = old.ExpAvgSq.shape[0];
            if (mode == OptimizerGrowthMode.Keep && expAvgSq.shape[0] > oldRows)
            {
                using var newRows = expAvgSq.narrow(0, oldRows, expAvgSq.shape[0] - oldRows);
                using var mean = old.ExpAvgSq.mean([0L], keepdim: true);
                using var rows = mean.expand_as(newRows);
                newRows.copy_(rows);
            }
        }
        grown.StepCount = previous.StepCount;
        return grown;
    }

    // The grown moment is zero; its first rows take the old moment (parameters only grow along axis 0).
    private static void CopyIntoFirstRows(Tensor grown, Tensor old, string name)
    {
        if (old.dim() != grown.dim() || old.dim() == 0 || old.shape[0] > grown.shape[0] || !old.shape.Skip(1).SequenceEqual(grown.shape.Skip(1)))
            throw new GrowthException($"{name}: cannot carry {Shapes.Format(old.shape)} into {Shapes.Format(grown.shape)}: only axis 0 may grow.");
        using var rows = grown.narrow(0, 0, old.shape[0]);
        rows.copy_(old);
    }

    /// <summary>Frees the moment tensors.</summary>
    public void Dispose()
    {
        foreach (var (expAvg, expAvgSq) in _moments.Values)
        {
            expAvg.Dispose();
            expAvgSq.Dispose();
        }
    }
}
