using System.Globalization;
using System.Text.Json;
using TokenformerGen.Benchmarks.Harness;
using TokenformerGen.Devices;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;
using TokenformerGen.Training;
using static TorchSharp.torch;

namespace TokenformerGen.Benchmarks.Figures;

/// <summary>
/// Figure 11 (issue 17): where a training step of the released 150M shape spends its time, in fp32 and bf16, at 1 × 128
/// and 4 × 512 tokens. (a) The phases of real steps — forward with the loss, backward, gradient norm, AdamW with the
/// clipping, dropping the gradients — and the page faults per step, each setting in a fresh child process, once with
/// this runtime's host allocator setting and once with glibc's default (<see cref="HostMemory"/>); (b) every part of the
/// model on its own, forward and backward, at the model's shapes.
/// </summary>
internal sealed class StepPartsFigure : IFigure
{
    public int Number => 11;

    public string Name => "parts";

    private static readonly string[] PhaseNames = ["forward + loss", "backward", "gradient norm", "AdamW (+ clip)", "drop gradients"];

    public void Run(BenchContext context)
    {
        var size = context.Smoke ? BenchModels.Tiny : context.Shape ?? BenchModels.Released150M;
        var settings = context.Smoke ? new[] { (2, 32) } : [(1, 128), (4, 512)];
        var threads = get_num_threads();
        var phases = new FigureTable($"Figure 11a — a training step of {size.Label} by phase, {threads} thread(s): this runtime's host allocator against glibc's default",
                                     ["tokens a step", "precision", "allocator", .. PhaseNames, "sum of phases", "minor page faults a step", "step vs glibc default"]);
        var verdicts = new List<string>();
        foreach (var (batch, seq) in settings)
        {
            foreach (var precision in new[] { Precision.Fp32, Precision.Bf16 })
            {
                Dictionary<string, JsonElement>? system = null;
                foreach (var allocator in new[] { "system", "reuse" })
                {
                    context.Log($"parts: {size.Label} {batch} × {seq} {precision.Name()}, host allocator {allocator} (child process)");
                    var result = ChildProcess.Run(context.Out, new Dictionary<string, string> { [HostMemory.OptOutVariable] = allocator },
                                                  "parts", size == BenchModels.Tiny ? "tiny" : size == BenchModels.P354M ? "P354M" : "150M",
                                                  batch.ToString(CultureInfo.InvariantCulture), seq.ToString(CultureInfo.InvariantCulture), precision.Name(), threads.ToString(CultureInfo.InvariantCulture));
                    var medians = PhaseNames.Select(p => result[p].GetDouble()).ToList();
                    var sum = medians.Sum();
                    var versus = system is null ? "" : FigureTable.Ratio(PhaseSum(system) / sum) + " faster";
                    phases.Add([$"{batch} × {seq}", precision.Name(), result["allocator"].GetString()!, .. medians.Select(Ms), Ms(sum), (long)result["faults"].GetDouble(), versus]);
                    if (system is not null) verdicts.Add($"{batch} × {seq} {precision.Name()} {FigureTable.Ratio(PhaseSum(system) / sum)}");
                    system ??= result;
                }
            }
        }
        phases.Notes.Add("Each row: a fresh child process with TOKENFORMERGEN_HOST_ALLOCATOR set; two warm-up steps, then the median of three steps per phase. The phases are the trainer's own (Evaluation.BatchLoss, backward, Trainer.GradientNorm, AdamW.Step with the clipping coefficient, AdamW.ZeroGrad), timed one by one.");
        phases.Notes.Add("Minor page faults: each is a 4 KB page the kernel maps and zeroes (read from /proc/self/stat), median over the three steps. glibc's default serves every block above 32 MB with a fresh mmap and unmaps it when freed.");
        phases.Print(context.Out);
        context.Verdicts.Add(new Verdict(Number, $"step with the host allocator setting vs glibc's default ({size.Label})", string.Join("; ", verdicts), "(finding)", null));

        foreach (var (batch, seq) in settings)
            foreach (var precision in new[] { Precision.Fp32, Precision.Bf16 })
                Parts(context, size, batch, seq, precision);
    }

    private static double PhaseSum(Dictionary<string, JsonElement> result) => PhaseNames.Sum(p => result[p].GetDouble());

    private static string Ms(double seconds) => (1e3 * seconds).ToString(seconds >= 0.1 ? "N0" : "F1", CultureInfo.InvariantCulture) + " ms";

    /// <summary>The child of 11a: <c>parts SIZE BATCH CONTEXT PRECISION THREADS</c>; reports each phase's median seconds and the faults per step.</summary>
    public static void Child(string[] args)
    {
        var size = BenchModels.ByName(args[0]);
        var (batch, seq) = (int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture));
        var precision = args[3] == "bf16" ? Precision.Bf16 : Precision.Fp32;
        set_num_threads(int.Parse(args[4], CultureInfo.InvariantCulture));
        using var corpus = BenchModels.OpenCorpus();
        var data = BenchModels.Batches(corpus);
        using var model = BenchModels.Initialized(size);   // the first model: the host allocator is set (or not) here
        model.Place(new ComputeTarget(CPU, precision));
        var options = new TrainerOptions { Steps = 100, Batch = batch, Context = seq };
        using var trainer = new Trainer(model, data, options);
        var times = PhaseNames.ToDictionary(p => p, _ => new List<double>());
        var faults = new List<double>();
        for (var step = 0; step < 5; step++)
        {
            var before = ProcessMemory.MinorFaults();
            var seconds = new double[PhaseNames.Length];
            using (var scope = NewDisposeScope())
            {
                model.train();
                using var tokens = data.TrainBatch(step, 0, batch, seq);
                Tensor loss = null!;
                seconds[0] = Timing.Seconds(() => loss = Evaluation.BatchLoss(model, tokens, nn.Reduction.Mean));
                seconds[1] = Timing.Seconds(() => loss.backward());
                (Tensor Norm, Tensor? Scale) norm = default;
                seconds[2] = Timing.Seconds(() => norm = Trainer.GradientNorm(model.parameters(), options.ClipNorm));
                seconds[3] = Timing.Seconds(() => trainer.Optimizer.Step(options.LearningRate, norm.Scale));
                seconds[4] = Timing.Seconds(() => trainer.Optimizer.ZeroGrad());
            }
            if (step < 2) continue;   // warm-up: the heap grows to the step's working set
            faults.Add(ProcessMemory.MinorFaults() - before);
            for (var i = 0; i < PhaseNames.Length; i++) times[PhaseNames[i]].Add(seconds[i]);
        }
        var result = times.ToDictionary(t => t.Key, t => (object)Stats.Median(t.Value));
        result["faults"] = Stats.Median(faults);
        result["allocator"] = HostMemory.ReuseFreedBlocks();
        ChildProcess.Report(result);
    }

    // 11b: each part of the model alone, forward and backward, on random inputs of the model's shapes.
    private static void Parts(BenchContext context, BenchModels.Size size, int batch, int seq, Precision precision)
    {
        context.Log($"parts: {size.Label} {batch} × {seq} {precision.Name()}, each part alone");
        using var model = BenchModels.Initialized(size);
        model.Place(new ComputeTarget(CPU, precision));
        var a = model.Stage.Architecture;
        var type = precision.ComputeType();
        using var generator = new Generator(3);
        var repeats = context.Smoke ? 1 : 3;
        var table = new FigureTable($"Figure 11b — {size.Label} part by part, {batch} × {seq} tokens, {precision.Name()}",
                                    "part", "forward", "backward", "times a step", "a step's worth", "share of the sum");
        var rows = new List<(string Part, double Forward, double Backward, int Count)>();

        // Median forward and backward time of one part, the parameters' gradients dropped after each backward.
        (double Forward, double Backward) Time(Func<Tensor> forward, Tensor gradient)
        {
            var (f, b) = (new List<double>(), new List<double>());
            for (var i = 0; i < repeats + 1; i++)
            {
                using var scope = NewDisposeScope();
                Tensor output = null!;
                var tf = Timing.Seconds(() => output = forward());
                var tb = Timing.Seconds(() => output.backward([gradient]));
                foreach (var p in model.parameters()) p.grad = null;
                if (i == 0) continue;
                f.Add(tf);
                b.Add(tb);
            }
            return (Stats.Median(f), Stats.Median(b));
        }

        using var scope = NewDisposeScope();
        var embedding = model.modules().OfType<TokenEmbedding>().Single();
        var tokens = randint(0, a.PaddedVocabulary, [batch, seq], generator: generator);
        var hiddenGradient = randn([batch, seq, a.Hidden], generator: generator);
        var (ef, eb) = Time(() => embedding.call(tokens), hiddenGradient);
        rows.Add(("embedding lookup (table float32)", ef, eb, 1));

        var hidden = randn([batch, seq, a.Hidden], generator: generator).requires_grad_();
        var logitsGradient = randn([batch, seq, a.PaddedVocabulary], generator: generator);
        var (hf, hb) = Time(() => embedding.Logits(hidden), logitsGradient);
        rows.Add(("tied head h·Eᵀ", hf, hb, 1));

        var logits = randn([batch * seq, a.PaddedVocabulary], generator: generator).requires_grad_();
        var targets = randint(0, a.PaddedVocabulary, [batch * seq], generator: generator);
        var (lf, lb) = Time(() => nn.functional.cross_entropy(logits, targets), ones([]));
        rows.Add(("cross-entropy (float32 logits)", lf, lb, 1));

        foreach (var (name, pattention) in model.Pattentions().Where(p => p.Name.StartsWith("layers.0.", StringComparison.Ordinal)))
        {
            var x = randn([batch, seq, pattention.InputDim], generator: generator).requires_grad_();
            var g = randn([batch, seq, pattention.OutputDim], generator: generator).to(type);
            var (pf, pb) = Time(() => pattention.call(x), g);
            rows.Add(($"Pattention {name["layers.0.".Length..]} ({pattention.InputDim} → {pattention.TokenCount} → {pattention.OutputDim})", pf, pb, (int)a.Layers));
        }

        var rotary = new RotaryEmbedding(a.HeadDim, a.RotaryFraction, a.RotaryBase);
        Tensor Activation() => randn([batch, seq, a.Hidden], generator: generator).to(type).requires_grad_();
        var (q, k, v) = (Activation(), Activation(), Activation());
        var attentionGradient = randn([batch, seq, a.Hidden], generator: generator).to(type);
        var (af, ab) = Time(() => Primitives.Attention.CausalSelfAttention(q, k, v, a.Heads, rotary), attentionGradient);
        rows.Add(("attention core (rotary + fused attention)", af, ab, (int)a.Layers));

        var residual = randn([batch, seq, a.Hidden], generator: generator).requires_grad_();
        var (nf, nb) = Time(() => LayerNorms.NonParametric(residual), hiddenGradient);
        rows.Add(("non-parametric LayerNorm", nf, nb, 2 * (int)a.Layers));

        var total = rows.Sum(r => (r.Forward + r.Backward) * r.Count);
        foreach (var r in rows)
            table.Add(r.Part, Ms(r.Forward), Ms(r.Backward), r.Count, Ms((r.Forward + r.Backward) * r.Count), FigureTable.Percent((r.Forward + r.Backward) * r.Count / total));
        table.Add("sum", "", "", "", Ms(total), "");
        table.Notes.Add($"Median of {repeats} forward and backward passes after one warm-up, each part on random inputs of its shape in the model; not counted: residual additions, the final norm, the optimizer (see 11a).");
        table.Print(context.Out);
    }
}
