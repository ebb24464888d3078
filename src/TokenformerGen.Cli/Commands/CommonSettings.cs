using System.ComponentModel;
using Spectre.Console.Cli;

namespace TokenformerGen.Cli.Commands;

/// <summary>Options of every command that reads text: the file, the tokenizer and the token cache.</summary>
internal class DataSettings : CommandSettings
{
    [CommandOption("--data <FILE>")]
    [Description("UTF-8 text file (.txt, or .gz compressed). Default: the application's corpus")]
    public string? Data { get; set; }

    [CommandOption("--tokenizer <FILE>")]
    [Description("A Hugging Face tokenizer.json (byte-level BPE) to use instead of the family's tokenizer")]
    public string? Tokenizer { get; set; }

    [CommandOption("--cache <DIR>")]
    [Description("Folder of tokenized-corpus caches. Default: ~/.cache/tokenformergen")]
    public string? Cache { get; set; }

    [CommandOption("--threads <N>")]
    [Description("Intra-op threads for training and evaluation. Default: the application's (one per core unless it says otherwise)")]
    public int? Threads { get; set; }
}

/// <summary>Options of commands that read a checkpoint and then data.</summary>
internal class CheckpointDataSettings : DataSettings
{
    [CommandOption("--checkpoint <FILE>", isRequired: true)]
    [Description("A checkpoint (.safetensors) written by this tool")]
    public string Checkpoint { get; set; } = "";
}
