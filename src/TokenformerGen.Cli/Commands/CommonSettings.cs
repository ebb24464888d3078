using System.ComponentModel;
using Spectre.Console.Cli;
using TokenformerGen.Cli.Infrastructure;
using TokenformerGen.Devices;

namespace TokenformerGen.Cli.Commands;

/// <summary>Options of every command that runs a model: where it computes and in what precision.</summary>
internal class ComputeSettings : CommandSettings
{
    [CommandOption("--device <D>")]
    [Description("cpu, cuda, cuda:N, or auto (CUDA when a device is visible, else the CPU; the choice is printed)")]
    [DefaultValue(ComputeTarget.Auto)]
    public string Device { get; set; } = ComputeTarget.Auto;

    [CommandOption("--precision <P>")]
    [Description("fp32; bf16: bfloat16 matmuls with float32 master weights, optimizer state and checkpoints; or auto: bf16 where the device multiplies it natively (CUDA, a CPU with avx512_bf16 or amx_bf16), else fp32 (the choice is printed)")]
    [DefaultValue("fp32")]
    public string Precision { get; set; } = "fp32";
}

/// <summary>Options of every command that reads text: the file, the tokenizer and the token cache.</summary>
internal class DataSettings : ComputeSettings
{
    [CommandOption("--data <FILE>")]
    [Description("UTF-8 text file (.txt, or .gz compressed), or a NeoX dataset PREFIX (PREFIX.idx and PREFIX.bin exist; pre-tokenized, its last 5% of tokens validate). Default: the application's corpus")]
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

/// <summary>Options of the commands that train (run and train): evaluation, seeds and what happens at growth.</summary>
internal class TrainingSettings : DataSettings
{
    [CommandOption("--eval-batches <N>")]
    [Description("Validation batches per evaluation")]
    [DefaultValue(8)]
    public int EvalBatches { get; set; } = 8;

    [CommandOption("--seed <N>")]
    [Description("Seed of from-scratch initialisation and of new rows at growth")]
    [DefaultValue(1234L)]
    public long Seed { get; set; } = 1234;

    [CommandOption("--data-seed <N>")]
    [Description("Seed of the order of training windows")]
    [DefaultValue(1L)]
    public long DataSeed { get; set; } = 1;

    [CommandOption("--policy <P>")]
    [Description("Growth policy (" + OptionParsing.PolicyChoices + ") wherever a stage is grown. Default: the spec's")]
    public string? Policy { get; set; }

    [CommandOption("--optimizer-growth <M>")]
    [Description("AdamW state at growth: keep (old rows' moments and step count kept; new rows: zero first moment, second moment the old rows' mean), keep-zero (the same with new rows' moments zero) or reset. Default: " + DefaultOptimizerGrowth)]
    public string? OptimizerGrowth { get; set; }

    /// <summary>How the help names the default of <c>--optimizer-growth</c>, <see cref="Scaling.ScheduleOptions.OptimizerGrowth"/> (chosen by the ablation in docs/scaling.md).</summary>
    public const string DefaultOptimizerGrowth = "keep-zero";

    /// <summary>The schedule runner's defaults, which are the commands' (the help texts above name them; RunTests checks that they agree).</summary>
    public static readonly Scaling.ScheduleOptions ScheduleDefaults = new();
}
