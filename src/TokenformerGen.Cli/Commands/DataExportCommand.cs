using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Data;
using TokenformerGen.Text.Data;

namespace TokenformerGen.Cli.Commands;

internal sealed class DataExportSettings : CommandSettings
{
    [CommandOption("--data <FILE>")]
    [Description("UTF-8 text (.txt or .gz: one document) or JSON lines (.jsonl or .jsonl.gz: one document per line, its \"text\"). Default: the application's corpus")]
    public string? Data { get; set; }

    [CommandOption("--family <F>")]
    [Description("Tokenize with this family's tokenizer")]
    public string? Family { get; set; }

    [CommandOption("--stage <S>")]
    [Description("The family's stage (any stage: they share the tokenizer)")]
    public string? Stage { get; set; }

    [CommandOption("--tokenizer <FILE>")]
    [Description("Tokenize with this Hugging Face tokenizer.json (byte-level BPE) instead")]
    public string? Tokenizer { get; set; }

    [CommandOption("--out <PREFIX>", isRequired: true)]
    [Description("Dataset to write: PREFIX.bin and PREFIX.idx (GPT-NeoX mmap format)")]
    public string Out { get; set; } = "";
}

/// <summary>Tokenizes a text into a GPT-NeoX mmap dataset, one item per document ending in end-of-text.</summary>
internal sealed class DataExportCommand(CliSession session) : Command<DataExportSettings>
{
    public override int Execute(CommandContext context, DataExportSettings settings, CancellationToken cancellationToken)
    {
        var tokenizer = Tokenizer(settings);
        var input = settings.Data ?? session.Defaults.Corpus ?? throw new CliException("give the text to export with --data");
        CliSession.RequireFile(input, "text file");
        var info = session.ExportDataset(input, tokenizer, settings.Out);
        session.Console.MarkupLineInterpolated(
            $"wrote {NeoXDataset.DataPath(settings.Out)} and {NeoXDataset.IndexPath(settings.Out)}: {info.Documents:N0} documents, {info.Tokens:N0} tokens ({info.DTypeName}, end-of-text {tokenizer.EndOfText})");
        return 0;
    }

    private ITextTokenizer Tokenizer(DataExportSettings settings)
    {
        if (settings.Family is null)
        {
            if (settings.Tokenizer is null) throw new CliException("name the tokenizer: --family F (its tokenizer) or --tokenizer FILE (a tokenizer.json)");
            CliSession.RequireFile(settings.Tokenizer, "tokenizer file");
            var file = HuggingFaceBpeTokenizer.Load(settings.Tokenizer);
            session.Console.MarkupLineInterpolated($"[grey]tokenizer: '{settings.Tokenizer}' (byte-level BPE, {file.VocabularySize:N0} ids)[/]");
            return file;
        }
        var family = session.Family(settings.Family);
        var stage = settings.Stage is null ? family.Stages[0] : CliSession.Stage(family, settings.Stage);   // stages share the tokenizer
        return session.Tokenizer(stage.Info, settings.Tokenizer);
    }

}
