using TokenformerGen.Cli;

// Every family in examples/families is compiled into this application by the generator; the command line
// comes from TokenformerGen.Cli. With no arguments it runs TinyKjv's schedule on the shipped King James text.
return TokenformerCli.Run(args, new CliDefaults
{
    ApplicationName = "ProgressiveScaling",
    Family = "TinyKjv",
    Corpus = Path.Combine(AppContext.BaseDirectory, "data", "kjv.txt.gz"),
    // One intra-op thread unless --threads says otherwise: on two cores shared with other work, two threads
    // stall each other (measured 0.9–7k tokens/s against a steady 3.5–6k with one), and the default run
    // must finish in a predictable time.
    Threads = 1,
});
