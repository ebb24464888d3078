using TokenformerGen.Cli;

// Every family in examples/families is compiled into this application by the generator; the command line
// comes from TokenformerGen.Cli. With no arguments it runs TinyKjv's schedule on the shipped King James text,
// with libtorch's intra-op threads (one per core); --threads N caps them on a shared machine.
return TokenformerCli.Run(args, new CliDefaults
{
    ApplicationName = "ProgressiveScaling",
    Family = "TinyKjv",
    Corpus = Path.Combine(AppContext.BaseDirectory, "data", "kjv.txt.gz"),
});
