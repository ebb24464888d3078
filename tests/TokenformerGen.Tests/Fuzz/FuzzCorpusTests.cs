using TokenformerGen.Fuzz;

namespace TokenformerGen.Tests.Fuzz;

/// <summary>
/// Every committed corpus and regression input of the runtime's fuzz targets (fuzz/corpus, fuzz/regressions), through
/// the same entry points and bounds the fuzzer holds them to: no exception but the documented refusal, managed
/// allocation and tensor bytes within the stated bounds, under a second per input, and a refusal that names the file.
/// Each regression is also refused with the reason expected.tsv gives.
/// </summary>
public sealed class FuzzCorpusTests : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "tfg-fuzz-test-" + Guid.NewGuid().ToString("N"));

    public static TheoryData<FuzzInput> Inputs()
    {
        var data = new TheoryData<FuzzInput>();
        foreach (var target in ReaderTargets.All)
            foreach (var input in FuzzCorpus.Inputs(target.Name)) data.Add(input);
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void ReplaysWithinTheBounds(FuzzInput input)
    {
        var target = ReaderTargets.All.Single(t => t.Name == input.Target);
        var bytes = File.ReadAllBytes(input.Path);
        target.Warm(bytes, _scratch);                // the first call pays for JIT, first-use caches and loading libtorch
        var measured = target.Check(bytes, _scratch, timed: false);
        if (input.ExpectedRefusal is { } expected)
        {
            Assert.NotNull(measured.Outcome.Refusal);
            Assert.Contains(expected, measured.Outcome.Refusal);
        }
    }

    [Fact]
    public void EveryTargetHasACorpus()
    {
        foreach (var target in ReaderTargets.All)
            Assert.Contains(FuzzCorpus.Inputs(target.Name), i => i.ExpectedRefusal is null);
    }

    [Fact]
    public void TheBoundsCatchWhatTheyBound()
    {
        // A target that allocates past its bound, or hands back more tensor bytes than it may, is a violation, not a pass.
        var greedy = new FuzzTarget("greedy", (input, _) => { GC.KeepAlive(new byte[FuzzLimits.ManagedAllowance + 64 * input.Length + 1]); return Outcome.Accepted(); }, 64, 1);
        Assert.Throws<BoundViolationException>(() => greedy.Check(new byte[10], _scratch));
        var big = new FuzzTarget("big", (input, _) => Outcome.Accepted(input.Length + 1L), 64, 1);
        Assert.Throws<BoundViolationException>(() => big.Check(new byte[10], _scratch));
        // A call on an input of at most a megabyte that takes longer than the limit is a hang; a larger input may.
        var slow = new FuzzTarget("slow", (_, _) => { Thread.Sleep(FuzzLimits.TimeLimit + TimeSpan.FromMilliseconds(50)); return Outcome.Accepted(); }, 64, 1);
        Assert.Contains("the limit is 1000 ms", Assert.Throws<BoundViolationException>(() => slow.Check(new byte[FuzzLimits.TimedInputBytes], _scratch)).Message);
        slow.Check(new byte[FuzzLimits.TimedInputBytes + 1], _scratch);
        var vague = new FuzzTarget("vague", (_, _) => Outcome.Refused("something is wrong"), 64, 1);
        Assert.Contains("does not name the file", Assert.Throws<BoundViolationException>(() => vague.Check([], _scratch)).Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(_scratch)) Directory.Delete(_scratch, recursive: true);
    }
}
