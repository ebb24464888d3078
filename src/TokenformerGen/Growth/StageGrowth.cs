using TokenformerGen.Checkpoints;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Modules;
using static TorchSharp.torch;

namespace TokenformerGen.Growth;

/// <summary>What a growth did and, when it was measured, what it did to the model's function.</summary>
/// <param name="From">The trained stage.</param>
/// <param name="To">The grown stage.</param>
/// <param name="Policy">The policy whose rows ran.</param>
/// <param name="PreservesFunction">Whether the map says this policy keeps the function exactly.</param>
/// <param name="LossBefore">The measure (e.g. validation loss) of the trained model, when measured.</param>
/// <param name="LossAfter">The same measure of the grown model before any training, when measured.</param>
/// <param name="Tolerance">The largest |after − before| accepted for a function-preserving growth.</param>
public sealed record GrowthReport(string From, string To, GrowthPolicy Policy, bool PreservesFunction, double? LossBefore, double? LossAfter, double Tolerance)
{
    /// <summary>After − before, when both were measured.</summary>
    public double? Delta => LossAfter - LossBefore;

    /// <summary>How it grew, as a spec says it: the tokens' policy, and the blocks' when the depth grew (<c>zero_keys, layers identity</c>; a Transformer's: <c>layers stack</c>).</summary>
    public string Description { get; init; } = Policy.SpecName();
}

/// <summary>
/// Grows a trained stage into the next by executing the rows of the edge's <see cref="GrowthMap"/>: kept rows
/// are copied, appended rows made as the row says for the chosen policy (zero, or drawn by
/// <see cref="NewRowDraws"/>), unchanged parameters copied. In memory between models on any device, or
/// streamed from checkpoint to checkpoint; both give bit-identical weights from the same seed. Every caller —
/// generated <c>GrowFrom</c>, the schedule runner, <c>train --from</c>, <c>grow</c> — grows and checks here.
/// </summary>
public static class StageGrowth
{
    /// <summary>The largest |loss after − loss before| a function-preserving growth may show in float32.</summary>
    public const double DefaultTolerance = 1e-4;

    /// <summary>
    /// The same for a model that computes in bfloat16: the grown model multiplies by wider matrices, which round
    /// differently (GrowthTests measure it).
    /// </summary>
    public const double Bf16Tolerance = 1e-3;

    /// <summary>The tolerance of a function-preserving growth measured in <paramref name="precision"/>.</summary>
    public static double ToleranceFor(Devices.Precision precision) => precision == Devices.Precision.Bf16 ? Bf16Tolerance : DefaultTolerance;

    // Bytes moved per read/write when streaming a checkpoint: large enough for sequential disk speed.
    private const int CopyChunkBytes = 8 << 20;

    /// <summary>
    /// Grows a trained stage and its optimizer into the next stage: what <c>run</c>, <c>study</c> and <c>train --from</c>
    /// all do at a growth. The model grows as <see cref="GrowInto"/> does (checked with <paramref name="measure"/>); the
    /// grown optimizer carries <paramref name="trainedOptimizer"/>'s state over as <paramref name="mode"/> says, or is null
    /// (start afresh) when there is no state to carry.
    /// </summary>
    /// <exception cref="GrowthException">As <see cref="GrowInto"/>, or the optimizer's parameters do not fit.</exception>
    public static (GrowthReport Report, Training.AdamW? Optimizer) GrowWithOptimizer(
        GrowthMap map, TokenformerModel trained, Training.AdamW? trainedOptimizer, TokenformerModel target, Training.OptimizerGrowthMode mode,
        GrowthOptions? options = null, Func<TokenformerModel, double>? measure = null, double? tolerance = null)
    {
        var report = GrowInto(map, trained, target, options, measure, tolerance);
        return (report, trainedOptimizer is null ? null : Training.AdamW.Grow(trainedOptimizer, target.NamedParameters(), mode, name => map[name].SourceName));
    }

    /// <summary>
    /// Grows <paramref name="trained"/> into <paramref name="target"/> in memory, each on its own device (place the target
    /// first: its tensors are filled where they are). When <paramref name="measure"/> is given, it is applied to both
    /// models (e.g. validation loss) and a growth that should preserve the function but changes the measure by more than
    /// <paramref name="tolerance"/> (default: <see cref="ToleranceFor"/> the target's precision) is refused.
    /// </summary>
    /// <exception cref="GrowthException">The models do not fit the map, the options are refused, or a preserving growth changed the function.</exception>
    public static GrowthReport GrowInto(GrowthMap map, TokenformerModel trained, TokenformerModel target, GrowthOptions? options = null,
                                        Func<TokenformerModel, double>? measure = null, double? tolerance = null)
    {
        options ??= new GrowthOptions();
        trained.RequireMasterWeights("grown");
        target.RequireMasterWeights("grown into");
        if (trained.HasOwnTau) throw OwnTauRefused(map);
        Verify(map, trained.StateShapes(), target.StateShapes());
        var rows = map.Rows.Select(row => (Row: row, NewRows: options.NewRowsOf(map, row))).ToList();
        double? before = measure?.Invoke(trained);
        using (no_grad())
        {
            var source = trained.state_dict();
            var destination = target.state_dict();
            foreach (var (row, newRows) in rows)
            {
                var to = destination[row.Name];
                if (row.GrowAxis is null)
                {
                    to.copy_(source[row.SourceName!]);
                    continue;
                }
                if (row.SourceName is { } from)
                {
                    using var kept = to.narrow(0, 0, row.KeptRows);
                    kept.copy_(source[from]);
                }
                using var appended = to.narrow(0, row.KeptRows, row.AppendedRows);
                if (newRows.Init == NewRowInit.Normal)
                {
                    NewRowDraws.ForEachChunk(row.Name, row.AppendedRows, RowElements(row.ToShape), newRows.Std, options.Seed, (first, chunk) =>
                    {
                        using var rowsOfChunk = appended.narrow(0, first, chunk.shape[0]);
                        using var shaped = chunk.view(rowsOfChunk.shape);
                        rowsOfChunk.copy_(shaped);
                    });
                }
                else
                {
                    appended.zero_();
                }
            }
        }
        double? after = measure?.Invoke(target);
        return Check(map, options.PolicyFor(map), before, after, tolerance ?? ToleranceFor(target.Precision));
    }

    /// <summary>
    /// Grows the checkpoint <paramref name="sourcePath"/> of <see cref="GrowthMap.From"/> into a new checkpoint
    /// of <see cref="GrowthMap.To"/> at <paramref name="targetPath"/>, streaming bytes through two reused
    /// buffers: no tensor is ever held whole, so memory stays at a few megabytes whatever the model. The
    /// source must be of the map's family and stage and hold exactly the map's parameters; the target is
    /// written atomically, with step 0 and no optimizer state (a growth starts a new training stage).
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The source is of another family or stage.</exception>
    /// <exception cref="GrowthException">The source does not fit the map, or the options are refused.</exception>
    public static CheckpointMetadata GrowCheckpoint(GrowthMap map, string sourcePath, string targetPath, GrowthOptions? options = null)
    {
        options ??= new GrowthOptions();
        using var reader = SafeTensorsReader.Open(sourcePath);
        var source = CheckpointMetadata.FromDictionary(reader.Metadata, sourcePath);
        source.Require(sourcePath, map.From.Family, map.From.Name);
        if (source.OwnTau) throw OwnTauRefused(map);
        Verify(map, reader.Tensors.Select(t => new KeyValuePair<string, long[]>(t.Name, t.Shape)).ToList(),
                   map.Rows.Select(r => new KeyValuePair<string, long[]>(r.Name, r.ToShape)).ToList());
        var rows = map.Rows.ToDictionary(row => row.Name, row => (Row: row, NewRows: options.NewRowsOf(map, row)), StringComparer.Ordinal);
        // A new block's parameters take the type of the checkpoint's first tensor (every tensor of a checkpoint has one).
        var newType = reader.Tensors.First().DType;
        var specs = map.Rows.Select(row => new TensorSpec(row.Name, row.SourceName is null ? newType : SourceInfo(reader, row).DType, row.ToShape)).ToList();
        var extra = new Dictionary<string, string> { ["grown_from"] = map.From.QualifiedName, ["growth_policy"] = options.PolicyFor(map).SpecName() };
        if (map.To.LayerGrowth is { } layers) extra["layer_growth"] = layers.SpecName();
        var written = new CheckpointMetadata(map.To.Family, map.To.Name, map.To.SpecHash, 0)
        {
            Extra = extra,
            DType = Checkpoint.DTypeOf(specs.Select(s => s.DType)),
            Precision = source.Precision,   // not trained since: what its weights were trained in
            CheckpointId = Guid.NewGuid().ToString("N"),
        };
        var buffer = new byte[CopyChunkBytes];
        AtomicFile.Write(targetPath, stream =>
        {
            using var writer = new SafeTensorsWriter(stream, specs, written.ToDictionary("model"));
            // Random rows are drawn on a second thread, in the writer's order, while this one moves bytes:
            // drawing them costs about as much as writing the file.
            using var draws = new DrawAhead(writer.Order.Where(spec => rows[spec.Name].Row.AppendedRows > 0 && rows[spec.Name].NewRows.Init == NewRowInit.Normal)
                .Select(spec => new DrawAhead.Tensor(spec.Name, rows[spec.Name].Row.AppendedRows, RowElements(spec.Shape), rows[spec.Name].NewRows.Std, spec.DType)).ToList(), options.Seed);
            foreach (var spec in writer.Order)
            {
                var (row, newRows) = rows[spec.Name];
                if (row.SourceName is { } from)
                {
                    var source = SourceInfo(reader, row);
                    for (long offset = 0; offset < source.ByteLength; offset += buffer.Length)
                    {
                        var piece = buffer.AsSpan(0, (int)Math.Min(buffer.Length, source.ByteLength - offset));
                        reader.ReadBytes(from, offset, piece);
                        writer.WriteBytes(row.Name, piece);
                    }
                }
                if (row.AppendedRows == 0) continue;
                if (newRows.Init == NewRowInit.Normal)
                {
                    draws.ForEachChunk(row.Name, bytes => writer.WriteBytes(row.Name, bytes));
                }
                else
                {
                    Array.Clear(buffer);
                    var zeros = row.AppendedRows * RowElements(row.ToShape) * SafeTensorsDType.ItemSize(spec.DType);
                    for (long done = 0; done < zeros; done += buffer.Length)
                        writer.WriteBytes(row.Name, buffer.AsSpan(0, (int)Math.Min(buffer.Length, zeros - done)));
                }
            }
            writer.Complete();
        });
        return written;
    }

    // A stage trained from scratch at its own τ computes another function than the one its child's τ continues.
    private static GrowthException OwnTauRefused(GrowthMap map)
        => new($"{map.From.QualifiedName} was trained with its own τ (a from-scratch reference), not the τ {map.To.Name} continues, so growing it would not preserve what it learned: grow a checkpoint of the progressive run.");

    /// <summary>
    /// The check every growth ends with: reports what the map says about <paramref name="policy"/> and refuses a
    /// growth that should preserve the function but moved the measure by more than <paramref name="tolerance"/>.
    /// </summary>
    /// <exception cref="GrowthException">A function-preserving growth changed the measure.</exception>
    public static GrowthReport Check(GrowthMap map, GrowthPolicy policy, double? before, double? after, double tolerance = DefaultTolerance)
    {
        var report = new GrowthReport(map.From.Name, map.To.Name, policy, map.PreservesFunction[policy], before, after, tolerance)
        {
            Description = map.To.DescribeGrowth(policy),
        };
        if (report.PreservesFunction && report.Delta is double delta && !(Math.Abs(delta) <= tolerance))
            throw new GrowthException($"{map.From.QualifiedName} → {map.To.QualifiedName}: {policy.SpecName()} growth should keep the function, but the measure changed from {before:F6} to {after:F6} (tolerance {tolerance:G}).");
        return report;
    }

    /// <summary>
    /// Refuses a source or target whose parameters are not exactly the map's (name and shape), listing
    /// every difference at once.
    /// </summary>
    /// <exception cref="GrowthException">Some parameter is missing, extra or misshapen.</exception>
    private static void Verify(GrowthMap map, IReadOnlyList<KeyValuePair<string, long[]>> source, IReadOnlyList<KeyValuePair<string, long[]>> target)
    {
        var problems = new List<string>();
        void Compare(string side, IReadOnlyList<KeyValuePair<string, long[]>> actual, IEnumerable<(string Name, long[] Shape)> expected)
        {
            var actualShapes = actual.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var known = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, expectedShape) in expected)
            {
                if (!known.Add(name)) continue;   // a trained block that several stacked blocks copy
                if (!actualShapes.TryGetValue(name, out var shape)) problems.Add($"{name}: missing from the {side}.");
                else if (!shape.SequenceEqual(expectedShape)) problems.Add($"{name}: the {side} has {Shapes.Format(shape)}, the map expects {Shapes.Format(expectedShape)}.");
            }
            problems.AddRange(actual.Where(p => !known.Contains(p.Key)).Select(p => $"{p.Key}: in the {side} but not in the map."));
        }
        Compare($"source ({map.From.QualifiedName})", source, map.Rows.Where(row => row.SourceName is not null).Select(row => (row.SourceName!, row.FromShape)));
        Compare($"target ({map.To.QualifiedName})", target, map.Rows.Select(row => (row.Name, row.ToShape)));
        if (problems.Count > 0)
            throw new GrowthException($"{map.From.QualifiedName} → {map.To.QualifiedName}: {problems.Count} parameter(s) do not match the growth map:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
    }

    private static long RowElements(long[] shape) => shape.Skip(1).Aggregate(1L, (a, b) => a * b);

    private static SafeTensorInfo SourceInfo(SafeTensorsReader reader, GrowthRow row)
        => reader.TryGetInfo(row.SourceName!, out var info) ? info : throw new KeyNotFoundException($"{reader.FilePath} holds no tensor '{row.SourceName}'.");
}
