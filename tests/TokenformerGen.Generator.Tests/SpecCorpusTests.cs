using TokenformerGen.Fuzz;

namespace TokenformerGen.Generator.Tests;

/// <summary>
/// The spec fuzz target's committed corpus and regressions (fuzz/corpus/spec, fuzz/regressions/spec) through the generator's
/// pipeline as the fuzzer runs it: never TFG0999, never a plan beside an error, within the stated bounds.
/// </summary>
public sealed class SpecCorpusTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "tfg-fuzz-spec-" + Guid.NewGuid().ToString("N"));

    public static TheoryData<FuzzInput> Inputs()
    {
        var data = new TheoryData<FuzzInput>();
        foreach (var input in FuzzCorpus.Inputs(SpecTarget.Spec.Name)) data.Add(input);
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void ReplaysWithinTheBounds(FuzzInput input)
    {
        var bytes = File.ReadAllBytes(input.Path);
        SpecTarget.Spec.Warm(bytes, _scratch);   // the first call pays for JIT and the YAML parser's first-use caches
        var measured = SpecTarget.Spec.Check(bytes, _scratch, timed: false);
        if (input.ExpectedRefusal is { } expected) Assert.Contains(expected, measured.Outcome.Refusal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_scratch)) Directory.Delete(_scratch, recursive: true);
    }
}
