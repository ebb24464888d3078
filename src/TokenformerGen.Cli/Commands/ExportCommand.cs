using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Checkpoints;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Devices;
using TokenformerGen.Families;
using TokenformerGen.Handoff;
using TokenformerGen.Inference;
using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.Text.Data;
using TokenformerGen.Text.Families;
using TokenformerGen.Text.Onnx;

namespace TokenformerGen.Cli.Commands;

internal sealed class ExportSettings : CommandSettings
{
    [CommandOption("--checkpoint <FILE>", isRequired: true)]
    [Description("A checkpoint written by this tool")]
    public string Checkpoint { get; set; } = "";

    [CommandOption("--official <DIR>")]
    [Description("Folder to receive pytorch_model.bin (official key layout) and a GPT-NeoX YAML config")]
    public string? Official { get; set; }

    [CommandOption("--neox <DIR>")]
    [Description("Folder to receive a DeepSpeed checkpoint directory, the dataset, tokenizer.json and a YAML config the official trainer starts from")]
    public string? NeoX { get; set; }

    [CommandOption("--onnx <DIR>")]
    [Description("Folder to receive model.onnx (opset 17, the inference graph with a KV cache; weights of 64 MB or more beside it in model.onnx.data), its model card tokenformer-onnx.json and ONNX Runtime GenAI's genai_config.json")]
    public string? Onnx { get; set; }

    [CommandOption("--weights <P>")]
    [Description("With --onnx: fp32 (default), int8 (per-channel weights, DynamicQuantizeLinear → MatMulInteger, standard opset 17) or int4 (com.microsoft MatMulNBits and GatherBlockQuantized, ONNX Runtime 1.20+) for every Pattention and the embedding")]
    [DefaultValue("fp32")]
    public string Weights { get; set; } = "fp32";

    [CommandOption("--block <N>")]
    [Description("With --onnx --weights int4: inputs per scale, a power of two from 16 to 256")]
    [DefaultValue(32)]
    public int Block { get; set; } = 32;

    [CommandOption("--route <R>")]
    [Description("With --neox: continue (train this stage on; load + finetune) or grow (train the next stage, initialised by pretrain_partial_init)")]
    [DefaultValue("continue")]
    public string Route { get; set; } = "continue";

    [CommandOption("--data <PREFIX>")]
    [Description("With --neox: the training data, a NeoX dataset PREFIX (used as is) or a text/JSON-lines file (converted into DIR/data). Default: the application's corpus, converted")]
    public string? Data { get; set; }

    [CommandOption("--tokenizer <FILE>")]
    [Description("With --neox: the tokenizer.json the trainer reads (needed for families without the shipped GPT-NeoX-20B tokenizer). With --onnx: a tokenizer.json shipped in the folder instead of the family's")]
    public string? Tokenizer { get; set; }

    public override Spectre.Console.ValidationResult Validate()
    {
        if (new[] { Official, NeoX, Onnx }.Count(f => f is not null) != 1)
            return Spectre.Console.ValidationResult.Error("give one of --official DIR, --neox DIR and --onnx DIR");
        if (Data is not null && NeoX is null) return Spectre.Console.ValidationResult.Error("--data goes with --neox");
        if (Tokenizer is not null && Official is not null) return Spectre.Console.ValidationResult.Error("--tokenizer goes with --neox or --onnx");
        if (Onnx is null && (Weights != "fp32" || Block != 32)) return Spectre.Console.ValidationResult.Error("--weights and --block go with --onnx");
        if (OnnxQuantizer.Parse(Weights) is null) return Spectre.Console.ValidationResult.Error($"--weights {Weights}: an ONNX export stores {string.Join(", ", OnnxQuantizer.Names)}");
        return Spectre.Console.ValidationResult.Success();
    }
}

/// <summary>
/// Writes a checkpoint for the official trainer: <c>--official</c> as pytorch_model.bin plus a config; <c>--neox</c> as a
/// DeepSpeed checkpoint directory plus dataset, tokenizer and a config the trainer starts from. <c>--onnx</c> writes it
/// for ONNX Runtime instead.
/// </summary>
internal sealed class ExportCommand(CliSession session) : Command<ExportSettings>
{
    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        var route = OptionParsing.Route(settings.Route);   // before a large checkpoint is read
        using var checkpoint = CliSession.Load(settings.Checkpoint, ComputeTarget.Cpu);   // export only moves tensors to files
        if (settings.Onnx is not null) return Onnx(checkpoint, settings.Onnx, settings.Tokenizer, OnnxQuantizer.Parse(settings.Weights)!.Value, settings.Block);
        if (OfficialLayout.Refusal(checkpoint.Model.Stage) is { } refusal) throw new CliException(refusal + "; export it with --onnx");
        return settings.Official is not null ? Official(checkpoint, settings.Official) : NeoX(checkpoint, settings, settings.NeoX!, route);
    }

    private int Onnx(LoadedCheckpoint checkpoint, string folder, string? tokenizer, OnnxPrecision precision, int block)
    {
        var stage = checkpoint.Model.Stage;
        if (tokenizer is not null) session.Tokenizer(stage, tokenizer);   // it must fit the vocabulary before it is shipped
        var result = OnnxExport.Write(checkpoint.Model, folder, new OnnxExportOptions { TokenizerFile = tokenizer, TrainingStep = checkpoint.Metadata.Step, Precision = precision, BlockSize = block });
        var weights = result.Card.ExternalData is { } data ? $"in {data}" : "inside the graph";
        session.Console.MarkupLineInterpolated($"exported {stage.QualifiedName} (step {checkpoint.Metadata.Step}) to ONNX opset {result.Card.Opset}: {Path.Combine(folder, result.Card.Model)} ({result.Nodes:N0} nodes, {result.WeightBytes / 1e6:F1} MB of {result.Card.Weights} weights {weights}), {Path.Combine(folder, OnnxModelCard.FileName)}");
        session.Console.MarkupLineInterpolated($"  run it in ONNX Runtime: generate --onnx {folder}");
        return 0;
    }

    private int Official(LoadedCheckpoint checkpoint, string folder)
    {
        var stage = checkpoint.Model.Stage;
        Directory.CreateDirectory(folder);
        var weights = Path.Combine(folder, OfficialCheckpoint.FileName);
        OfficialCheckpoint.Export(weights, checkpoint.Model, (int)stage.Architecture.Layers);
        var config = Path.Combine(folder, $"{stage.Family}_{stage.Name}.yml");
        AtomicFile.Write(config, s =>
        {
            using var writer = new StreamWriter(s, leaveOpen: true);
            writer.Write(OfficialConfig.Write(stage));
        });
        session.Console.MarkupLineInterpolated($"exported {stage.QualifiedName} (step {checkpoint.Metadata.Step}): {weights}, {config}");
        foreach (var caveat in OfficialConfig.Caveats(stage))
            session.Console.MarkupLineInterpolated($"[yellow]note[/]: {caveat}");
        return 0;
    }

    private int NeoX(LoadedCheckpoint checkpoint, ExportSettings settings, string folder, NeoXRoute route)
    {
        var stage = checkpoint.Model.Stage;
        var target = route == NeoXRoute.Continue ? stage : NextStage(checkpoint.Family, stage);
        var (tokenizer, tokenizerJson) = Tokenizer(stage, settings.Tokenizer);
        if (NeoXConfig.Refusal(target, tokenizer.VocabularySize) is { } refusal)
            throw new CliException($"the official trainer cannot take {target.QualifiedName}: {refusal}");
        if (target.Architecture.Layers != stage.Architecture.Layers)
            throw new CliException($"the official trainer cannot grow {stage.QualifiedName} into {target.QualifiedName}: it appends parameter tokens, and {target.Name} is deeper ({stage.Architecture.Layers} → {target.Architecture.Layers} layers); grow it here (train --from) and export {target.Name} with --route continue");

        var checkpoints = Combine(folder, "checkpoints");
        var weights = route == NeoXRoute.Continue ? checkpoints : Combine(folder, "pretrained");
        if (route == NeoXRoute.Grow && File.Exists(Path.Combine(checkpoints, DeepSpeedCheckpoint.LatestFile)))
            throw new CliException($"{checkpoints} already holds a checkpoint ('latest'): the trainer would resume from it instead of growing; export into an empty folder");
        Directory.CreateDirectory(folder);

        var data = Data(settings.Data, folder, tokenizer);
        var tokenizerFile = Combine(folder, "tokenizer.json");
        AtomicFile.Write(tokenizerFile, s => s.Write(tokenizerJson));
        var layers = (int)stage.Architecture.Layers;
        var modelFile = DeepSpeedCheckpoint.Write(weights, checkpoint.Model.state_dict(), layers, checkpoint.Metadata.Step);

        var handOff = new NeoXHandOff(route, weights, checkpoints, data, tokenizerFile, tokenizer.VocabularySize);
        var config = NeoXConfig.Build(target, handOff);
        var configFile = Path.Combine(folder, $"{target.Family}_{target.Name}.yml");
        var notes = Notes(stage, target, route, checkpoint.Family).ToList();
        AtomicFile.WriteText(configFile, NeoXConfig.Render(config, Header(stage, target, route, handOff, notes)));

        session.Console.MarkupLineInterpolated($"exported {stage.QualifiedName} (step {checkpoint.Metadata.Step}) for the official trainer ({route.ToString().ToLowerInvariant()} route{(route == NeoXRoute.Grow ? $" into {target.Name}" : "")}):");
        session.Console.MarkupLineInterpolated($"  weights {modelFile}; data {data}; tokenizer {tokenizerFile}");
        session.Console.MarkupLineInterpolated($"  config {configFile}: run python deepy.py train.py {configFile} from the folder these paths are relative to");
        foreach (var note in notes) session.Console.MarkupLineInterpolated($"[yellow]note[/]: {note}");
        return 0;
    }

    private static string Combine(string folder, string name) => Path.Combine(folder, name).Replace('\\', '/');

    private static StageInfo NextStage(FamilyRegistration family, StageInfo stage)
    {
        var next = family.Edges.Where(e => e.From.Name == stage.Name).Select(e => e.To).ToList();
        return next.Count switch
        {
            1 => next[0],
            0 => throw new CliException($"{stage.QualifiedName} is not grown into any stage, so there is nothing to grow it into: use --route continue"),
            _ => throw new CliException($"{stage.QualifiedName} grows into {string.Join(" and ", next.Select(s => s.Name))}; the grow route needs a single next stage"),
        };
    }

    // The tokenizer the trainer reads (its bytes go beside the config) and that the data is tokenized with.
    private (ITextTokenizer Tokenizer, byte[] Json) Tokenizer(StageInfo stage, string? file)
    {
        if (file is not null)
        {
            CliSession.RequireFile(file, "tokenizer file");
            var tokenizer = session.Tokenizer(stage, file);
            return (tokenizer, File.ReadAllBytes(file));
        }
        return stage.Architecture.Tokenizer switch
        {
            TokenizerKind.NeoX => (session.Tokenizer(stage, null), NeoXTokenizer.Json()),
            TokenizerKind.Gpt2 => throw new CliException("the trainer reads its tokenizer from a tokenizer.json, and only the GPT-NeoX-20B one ships with this tool: give GPT-2's with --tokenizer FILE"),
            _ => throw new CliException("this family's byte ids have no tokenizer in the official trainer (its CharLevelTokenizer has 512 ids, so its embedding would not match this family's): hand off a family with a BPE tokenizer"),
        };
    }

    // The dataset prefix for data_path: a NeoX dataset as given (checked), or a text converted into DIR/data.
    private string Data(string? data, string folder, ITextTokenizer tokenizer)
    {
        var path = session.DataPath(data);
        if (NeoXDataset.PrefixOf(path) is { } prefix)
        {
            using var check = TokenCorpus.OpenNeoX(prefix, tokenizer);
            return prefix.Replace('\\', '/');
        }
        var stem = Path.GetFileName(path);
        foreach (var extension in new[] { ".gz", ".jsonl", ".txt" })
            if (stem.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) stem = stem[..^extension.Length];
        var output = Combine(Path.Combine(folder, "data"), $"{stem}_text_document");
        var info = session.ExportDataset(path, tokenizer, output);
        session.Console.MarkupLineInterpolated($"[grey]data: {path} → {output} ({info.Documents:N0} documents, {info.Tokens:N0} tokens, {info.DTypeName})[/]");
        if (info.Documents < 20)
            session.Console.MarkupLineInterpolated($"[yellow]note[/]: the dataset has {info.Documents} document(s); the trainer holds out whole documents (split 95,5,0), so it validates on none: give JSON lines of many documents to validate there");
        return output;
    }

    private static IEnumerable<string> Notes(StageInfo stage, StageInfo target, NeoXRoute route, FamilyRegistration family)
    {
        foreach (var caveat in OfficialConfig.Caveats(target)) yield return caveat;
        if (route == NeoXRoute.Grow)
        {
            var policy = family.EdgeInto(target.Name)?.To.Growth;
            yield return $"the trainer grows {stage.Name} into {target.Name} by copying the parameter tokens into the first rows and leaving the new rows at its random initialisation"
                         + (policy is null ? "" : $", not by this family's {policy.Value.SpecName()} policy, so the grown model does not start exactly where {stage.Name} ended");
        }
    }

    private static IEnumerable<string> Header(StageInfo stage, StageInfo target, NeoXRoute route, NeoXHandOff handOff, IEnumerable<string> notes)
    {
        yield return $"GPT-NeoX config for the official TokenFormer trainer: {target.QualifiedName}, {target.Parameters:N0} parameters, written by TokenformerGen.";
        yield return route == NeoXRoute.Continue
            ? $"Route continue: starts from {stage.QualifiedName}'s weights in {handOff.Checkpoint} (load + finetune: weights only; iteration,\nschedule and optimizer start afresh). Once the trainer has saved there, set finetune to false so a restart resumes\nwith its optimizer."
            : $"Route grow: starts {target.Name} from {stage.QualifiedName}'s weights in {handOff.Checkpoint} (pretrain_partial_init: each\n*param_tokens tensor fills the first rows of the larger one). A restart resumes from {handOff.Save} once the trainer saved there.";
        yield return "Paths are relative to the folder python deepy.py train.py THIS_FILE runs in, as they were given on the command line.";
        yield return "train_batch_size is the stage's batch, split over the GPUs: it must divide by their number (raise gradient_accumulation_steps\nif a GPU's share does not fit).";
        foreach (var note in notes) yield return $"Note: {note}.";
    }
}
