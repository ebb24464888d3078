using System.ComponentModel;
using System.Text.RegularExpressions;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Primitives;

namespace TokenformerGen.Cli.Commands;

internal sealed class InspectSettings : CommandSettings
{
    [CommandOption("--family <F>")]
    [Description("The family to show in detail. Without it: every family and stage of the application")]
    public string? Family { get; set; }

    [CommandOption("--checkpoint <FILE>")]
    [Description("Show what a checkpoint is: family, stage, step, stored dtype, the precision it was trained in, and its other metadata")]
    public string? Checkpoint { get; set; }

    [CommandOption("--full")]
    [Description("List every parameter of each growth map instead of one row per parameter kind")]
    public bool Full { get; set; }
}

/// <summary>Lists families and stages, or shows one family: architecture, stages, and each edge's growth map.</summary>
internal sealed partial class InspectCommand(CliSession session) : Command<InspectSettings>
{
    public override int Execute(CommandContext context, InspectSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Checkpoint is not null) ShowCheckpoint(settings.Checkpoint);
        else if (settings.Family is null) ListAll();
        else Show(session.Family(settings.Family), settings.Full);
        return 0;
    }

    // The header only: no tensor is read.
    private void ShowCheckpoint(string path)
    {
        var (metadata, _, stage) = CliSession.Describe(path);
        var table = new Table().Title(Markup.Escape(path)).AddColumns("entry", "value");
        table.AddRow("family/stage", Markup.Escape(stage.Info.QualifiedName));
        table.AddRow("parameters", Numbers.Count(stage.Info.Parameters));
        if (stage.Info.Architecture.Block == BlockKind.Tokenformer)
            table.AddRow("τ qkv/proj/ffn", metadata.OwnTau ? $"{Numbers.Taus(stage.Info.WithOwnTau().Taus)}, its own counts' (trained from scratch; the stage declares {Numbers.Taus(stage.Info.Taus)})" : Numbers.Taus(stage.Info.Taus));
        table.AddRow("step", metadata.Step.ToString(System.Globalization.CultureInfo.InvariantCulture));
        table.AddRow("stored dtype", Markup.Escape(metadata.DType ?? "unrecorded"));
        table.AddRow("trained in", Markup.Escape(metadata.Precision ?? "unrecorded"));
        table.AddRow("spec hash", Markup.Escape(metadata.SpecHash) + (metadata.SpecHash == stage.Info.SpecHash ? "" : " [yellow](differs from this application's spec)[/]"));
        foreach (var (key, value) in metadata.Extra.OrderBy(e => e.Key, StringComparer.Ordinal))
            table.AddRow(Markup.Escape(key), Markup.Escape(value.Length > 80 ? value[..77] + "..." : value));
        session.Console.Write(table);
    }

    private void ListAll()
    {
        var table = new Table().Title("families").AddColumns("family", "stage", "from", "params", "qkv/proj/ffn or MLP", "budget", "tokenizer");
        foreach (var column in table.Columns.Skip(3).Take(3)) column.RightAligned();
        foreach (var family in ModelRegistry.Families)
            foreach (var stage in family.Stages.Select(s => s.Info))
                table.AddRow(Markup.Escape(family.Name), Markup.Escape(stage.Name), Markup.Escape(stage.GrowsFrom ?? ""), Numbers.Short(stage.Parameters),
                             Widths(stage), stage.Budget is { } b ? Numbers.Short(b.Tokens) : "-", stage.Architecture.Tokenizer.ToString().ToLowerInvariant());
        if (ModelRegistry.Families.Count == 0) session.Console.MarkupLine("[yellow]this application compiles no model family[/]");
        else session.Console.Write(table);
    }

    private void Show(FamilyRegistration family, bool full)
    {
        var a = family.Stages[0].Info.Architecture;
        session.Console.MarkupLineInterpolated($"[bold]{family.Name}[/]  spec sha256 {family.SpecHash[..Math.Min(16, family.SpecHash.Length)]}…");
        var transformer = a.Block == BlockKind.Transformer;
        session.Console.MarkupLineInterpolated(
            $"vocabulary {a.Vocabulary:N0} (padded {a.PaddedVocabulary:N0}, {a.Tokenizer.ToString().ToLowerInvariant()} tokenizer), context {a.Context}, {a.Block.SpecName()} blocks, hidden {a.Hidden}, {a.Heads} heads (head dim {a.HeadDim}), rotary {a.RotaryFraction:0.###} base {a.RotaryBase:0}");
        if (transformer)
            session.Console.MarkupLineInterpolated($"bias-free linear projections, MLP {a.MlpHidden} with exact GeLU; init inputs N(0, {a.KeyStd:G3}²), outputs Wang (per stage depth), embedding N(0, {a.EmbeddingStd:G3}²)");
        else
            session.Console.MarkupLineInterpolated($"Pattention Θ {a.Norm.SpecName()}, τ {(a.TauPolicy == TauPolicy.Fixed ? "fixed" : "√n")}, ε {a.Epsilon:G3}; init keys N(0, {a.KeyStd:G3}²), values N(0, {a.ValueStd:G3}²) at {a.Layers} layers, embedding N(0, {a.EmbeddingStd:G3}²)");

        var stages = new Table().Title("stages").AddColumns("stage", "grows from", "layers", transformer ? "MLP" : "tokens qkv/proj/ffn", "τ qkv/proj/ffn", "parameters", "training FLOPs/token", "budget");
        foreach (var i in new[] { 2, 5, 6 }) stages.Columns[i].RightAligned();
        foreach (var stage in family.Stages.Select(s => s.Info))
        {
            stages.AddRow(Markup.Escape(stage.Name), Markup.Escape(GrowsFrom(stage)), stage.Architecture.Layers.ToString(System.Globalization.CultureInfo.InvariantCulture), Widths(stage),
                          transformer ? "-" : Numbers.Taus(stage.Taus),
                          Numbers.Count(stage.Parameters), Numbers.Short(stage.TrainingFlopsPerToken),
                          stage.Budget is { } b ? $"{Numbers.Short(b.Tokens)} tokens, lr {b.LearningRate:G3}, batch {b.Batch}, warmup {b.Warmup:G3}" : "-");
        }
        session.Console.Write(stages);

        foreach (var edge in family.Edges)
        {
            string Keeps(GrowthPolicy p) => $"{p.SpecName()} {(edge.PreservesFunction[p] ? "keeps the function" : "changes it")}";
            var function = transformer ? (edge.PreservesFunction[edge.Policy] ? "keeps the function" : "changes it") : string.Join(", ", GrowthPolicies.All.Select(Keeps));
            var map = new Table().Title($"growth map {edge.From.Name} → {edge.To.Name} (spec: {edge.To.GrowthDescription}; {function})")
                                 .AddColumns(["parameter", "count", "from", "to", "grows", .. GrowthPolicies.All.Select(p => $"new rows: {p.SpecName()}")]);
            map.Columns[1].RightAligned();
            foreach (var row in full ? edge.Rows.Select(p => (Name: p.Name, Count: 1, Row: p)) : Condense(edge.Rows))
            {
                map.AddRow([Markup.Escape(row.Name), row.Count == 1 ? "" : $"× {row.Count}", Markup.Escape(row.Row.SourceName is null ? "-" : Shapes.Format(row.Row.FromShape)), Markup.Escape(Shapes.Format(row.Row.ToShape)),
                            Markup.Escape(Grows(row.Row, full)), .. GrowthPolicies.All.Select(p => Markup.Escape(row.Row.NewRows[p].ToString()))]);
            }
            session.Console.Write(map);
        }
    }

    /// <summary>One row per parameter kind: <c>layers.{i}.…</c> rows of equal shapes, origin and new rows become <c>layers.*.…</c> × L.</summary>
    internal static IEnumerable<(string Name, int Count, GrowthRow Row)> Condense(IReadOnlyList<GrowthRow> rows)
        => rows.GroupBy(p => (Kind: LayerIndex().Replace(p.Name, "layers.*."), From: Shapes.Format(p.FromShape), To: Shapes.Format(p.ToShape), p.NewRows, p.GrowAxis, Origin: Grows(p, full: false)))
               .Select(g => (g.Key.Kind, g.Count(), g.First()));

    // What a row does: a new block's parameter, a copy of a lower block's (stack), or the parameter itself, kept or grown.
    private static string Grows(GrowthRow row, bool full)
    {
        if (row.SourceName is null) return "new block";
        var appended = row.GrowAxis is int axis ? $"+{row.AppendedRows} on axis {axis}" : "copied";
        return row.SourceName == row.Name ? appended : $"{appended} from {(full ? row.SourceName : "a lower block")}";
    }

    private static string GrowsFrom(StageInfo stage) => stage.GrowsFrom is null ? "" : $"{stage.GrowsFrom} ({stage.GrowthDescription})";

    // What sizes a stage's blocks: parameter tokens qkv/proj/ffn, or a Transformer's MLP width.
    private static string Widths(StageInfo stage)
        => stage.Architecture.Block == BlockKind.Transformer ? stage.Architecture.MlpHidden.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{stage.Tokens.Qkv}/{stage.Tokens.Proj}/{stage.Tokens.Ffn}";

    [GeneratedRegex(@"^layers\.\d+\.")]
    private static partial Regex LayerIndex();
}
