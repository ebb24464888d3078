namespace TokenformerGen.Tests.Reference;

/// <summary>
/// The Tokenformer formulas of tokenformer-spec.md, written again in plain float64 arrays. Nothing
/// here calls the code under test or TorchSharp: it is the independent reference the primitives
/// are checked against. Matrices are row-major <c>[rows][cols]</c>.
/// </summary>
public static class Float64Reference
{
    public static double[][] MatMul(double[][] a, double[][] b)
    {
        var result = new double[a.Length][];
        for (var i = 0; i < a.Length; i++)
        {
            result[i] = new double[b[0].Length];
            for (var j = 0; j < b[0].Length; j++)
            {
                double sum = 0;
                for (var k = 0; k < b.Length; k++) sum += a[i][k] * b[k][j];
                result[i][j] = sum;
            }
        }
        return result;
    }

    public static double[][] Transpose(double[][] a)
        => Enumerable.Range(0, a[0].Length).Select(j => a.Select(row => row[j]).ToArray()).ToArray();

    /// <summary>erf by its Maclaurin series for |x| &lt; 3, else by the continued fraction of erfc.</summary>
    public static double Erf(double x)
    {
        if (x < 0) return -Erf(-x);
        if (x < 3)
        {
            double sum = 0, term = x;   // term = (-1)^n x^(2n+1) / n!
            for (var n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
                if (Math.Abs(term) < 1e-300) break;
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated from the tail.
        double fraction = x;
        for (var k = 120; k >= 1; k--) fraction = x + k / 2.0 / fraction;
        return 1 - Math.Exp(-x * x) / Math.Sqrt(Math.PI) / fraction;
    }

    /// <summary>Exact GeLU: x · Φ(x) = ½x(1 + erf(x/√2)).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    public static double[] L2NormGelu(double[] row, double tau)
    {
        var norm = Math.Sqrt(row.Sum(v => v * v));
        return row.Select(v => Gelu(v / norm * tau)).ToArray();
    }

    public static double[] GeluL2Norm(double[] row, double tau)
    {
        var g = row.Select(Gelu).ToArray();
        var norm = Math.Sqrt(g.Sum(v => v * v));
        return g.Select(v => v / norm * tau).ToArray();
    }

    public static double[] SoftmaxTimesN(double[] row)
    {
        var max = row.Max();
        var exps = row.Select(v => Math.Exp(v - max)).ToArray();
        var sum = exps.Sum();
        return exps.Select(e => e / sum * row.Length).ToArray();
    }

    /// <summary>Θ(X·Kᵀ)·V for one matrix of input tokens.</summary>
    public static double[][] Pattention(double[][] x, double[][] keys, double[][] values, Func<double[], double[]> theta)
        => MatMul(MatMul(x, Transpose(keys)).Select(theta).ToArray(), values);

    /// <summary>LayerNorm without affine parameters (biased variance, as PyTorch).</summary>
    public static double[] LayerNorm(double[] row, double eps = 1e-5)
    {
        var mean = row.Average();
        var variance = row.Select(v => (v - mean) * (v - mean)).Average();
        return row.Select(v => (v - mean) / Math.Sqrt(variance + eps)).ToArray();
    }

    /// <summary>GPT-NeoX rotate-half rotary on the first <paramref name="rotaryDims"/> dims of one head vector at <paramref name="position"/>.</summary>
    public static double[] Rotary(double[] head, int rotaryDims, long position, double theta = 10000)
    {
        var result = (double[])head.Clone();
        var half = rotaryDims / 2;
        for (var i = 0; i < half; i++)
        {
            var angle = position * Math.Pow(theta, -2.0 * i / rotaryDims);
            var (x1, x2) = (head[i], head[i + half]);
            result[i] = x1 * Math.Cos(angle) - x2 * Math.Sin(angle);
            result[i + half] = x2 * Math.Cos(angle) + x1 * Math.Sin(angle);
        }
        return result;
    }

    /// <summary>
    /// Causal multi-head attention of one sequence: q, k, v are <c>[T][d]</c> (already projected),
    /// rotary on the first <paramref name="rotaryDims"/> dims of each head, positions starting at
    /// <paramref name="firstPosition"/> for the queries; keys cover positions 0 .. T_k − 1.
    /// </summary>
    public static double[][] CausalAttention(double[][] q, double[][] k, double[][] v, int heads, int rotaryDims, int firstQueryPosition = 0)
    {
        var width = q[0].Length;
        var headDim = width / heads;
        var output = q.Select(_ => new double[width]).ToArray();
        for (var h = 0; h < heads; h++)
        {
            double[] Head(double[] row) => row.Skip(h * headDim).Take(headDim).ToArray();
            var keys = k.Select((row, p) => rotaryDims > 0 ? Rotary(Head(row), rotaryDims, p) : Head(row)).ToArray();
            for (var t = 0; t < q.Length; t++)
            {
                var position = firstQueryPosition + t;
                var query = rotaryDims > 0 ? Rotary(Head(q[t]), rotaryDims, position) : Head(q[t]);
                var scores = new double[position + 1];
                for (var s = 0; s <= position; s++)
                    scores[s] = query.Zip(keys[s], (a, b) => a * b).Sum() / Math.Sqrt(headDim);
                var max = scores.Max();
                var weights = scores.Select(x => Math.Exp(x - max)).ToArray();
                var total = weights.Sum();
                for (var s = 0; s <= position; s++)
                    for (var j = 0; j < headDim; j++)
                        output[t][h * headDim + j] += weights[s] / total * v[s][h * headDim + j];
            }
        }
        return output;
    }

    /// <summary>Everything one Tokenformer block needs, as float64 arrays.</summary>
    public sealed record BlockWeights(
        double[][] QueryKeys, double[][] QueryValues, double[][] KeyKeys, double[][] KeyValues,
        double[][] ValueKeys, double[][] ValueValues, double[][] ProjKeys, double[][] ProjValues,
        double[][] FfnKeys, double[][] FfnValues);

    /// <summary>
    /// One pre-LN block: <c>h = x + Proj(Attn(Q, K, V of LN(x)))</c>, <c>y = h + FFN(LN(h))</c>, every
    /// projection an <c>l2_norm_gelu</c> Pattention with τ = √n of its own token count.
    /// </summary>
    public static double[][] Block(double[][] x, BlockWeights w, int heads, int rotaryDims)
    {
        Func<double[], double[]> Theta(double[][] keys) => row => L2NormGelu(row, Math.Sqrt(keys.Length));
        double[][] P(double[][] input, double[][] keys, double[][] values) => Pattention(input, keys, values, Theta(keys));

        var normed = x.Select(r => LayerNorm(r)).ToArray();
        var attended = CausalAttention(P(normed, w.QueryKeys, w.QueryValues), P(normed, w.KeyKeys, w.KeyValues),
                                       P(normed, w.ValueKeys, w.ValueValues), heads, rotaryDims);
        var h = Add(x, P(attended, w.ProjKeys, w.ProjValues));
        return Add(h, P(h.Select(r => LayerNorm(r)).ToArray(), w.FfnKeys, w.FfnValues));
    }

    /// <summary>The weights of one standard Transformer block, each <c>[d_out][d_in]</c> as a linear layer stores it.</summary>
    public sealed record TransformerWeights(double[][] Query, double[][] Key, double[][] Value, double[][] Proj, double[][] Up, double[][] Down);

    /// <summary><c>x · Wᵀ</c>: a bias-free linear layer.</summary>
    public static double[][] Linear(double[][] x, double[][] weight) => MatMul(x, Transpose(weight));

    /// <summary>
    /// One pre-LN Transformer block: <c>h = x + Proj(Attn(Q, K, V of LN(x)))</c>, <c>y = h + Down(GeLU(Up(LN(h))))</c>,
    /// every projection bias-free, the GeLU exact.
    /// </summary>
    public static double[][] TransformerBlock(double[][] x, TransformerWeights w, int heads, int rotaryDims)
    {
        var normed = x.Select(r => LayerNorm(r)).ToArray();
        var attended = CausalAttention(Linear(normed, w.Query), Linear(normed, w.Key), Linear(normed, w.Value), heads, rotaryDims);
        var h = Add(x, Linear(attended, w.Proj));
        var up = Linear(h.Select(r => LayerNorm(r)).ToArray(), w.Up).Select(r => r.Select(Gelu).ToArray()).ToArray();
        return Add(h, Linear(up, w.Down));
    }

    public static double[][] Add(double[][] a, double[][] b) => a.Select((row, i) => row.Zip(b[i], (x, y) => x + y).ToArray()).ToArray();
}
