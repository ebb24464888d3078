namespace TokenformerGen.Text.ZeroShot;

/// <summary>
/// CPython's <c>random.Random</c> as far as lm-evaluation-harness's bootstrap uses it: the Mersenne Twister MT19937
/// seeded from a non-negative integer (<c>init_by_array</c> over its 32-bit words), <c>random()</c> with 53-bit
/// resolution, and <c>choices(population, k)</c> without weights. The same seed draws the same numbers as Python.
/// </summary>
public sealed class PythonRandom
{
    private const int N = 624, M = 397;
    private readonly uint[] _state = new uint[N];
    private int _index;

    /// <summary>A generator in the state <c>random.Random(seed)</c> starts in.</summary>
    public PythonRandom(uint seed)
    {
        // init_genrand(19650218), then init_by_array with the key [seed] (one word: CPython uses at least one).
        _state[0] = 19650218u;
        for (var i = 1; i < N; i++) _state[i] = 1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i;
        int s = 1, j = 0;
        for (var k = N; k > 0; k--)
        {
            _state[s] = (_state[s] ^ ((_state[s - 1] ^ (_state[s - 1] >> 30)) * 1664525u)) + seed + (uint)j;
            s++;
            j = 0;   // the key has one word
            if (s >= N) { _state[0] = _state[N - 1]; s = 1; }
        }
        for (var k = N - 1; k > 0; k--)
        {
            _state[s] = (_state[s] ^ ((_state[s - 1] ^ (_state[s - 1] >> 30)) * 1566083941u)) - (uint)s;
            s++;
            if (s >= N) { _state[0] = _state[N - 1]; s = 1; }
        }
        _state[0] = 0x80000000u;
        _index = N;
    }

    /// <summary>The next 32-bit output (<c>genrand_uint32</c>).</summary>
    public uint NextUInt32()
    {
        if (_index >= N)
        {
            for (var k = 0; k < N; k++)
            {
                var y = (_state[k] & 0x80000000u) | (_state[(k + 1) % N] & 0x7fffffffu);
                _state[k] = _state[(k + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }
            _index = 0;
        }
        var x = _state[_index++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680u;
        x ^= (x << 15) & 0xefc60000u;
        x ^= x >> 18;
        return x;
    }

    /// <summary>Python's <c>random()</c>: a double in [0, 1) from two outputs, 53 bits.</summary>
    public double NextDouble()
    {
        var a = NextUInt32() >> 5;
        var b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /// <summary>Python's <c>choices(population, k=k)</c> without weights: <c>population[floor(random() · n)]</c>, k times.</summary>
    public void Choices(ReadOnlySpan<double> population, Span<double> into)
    {
        double n = population.Length;
        for (var i = 0; i < into.Length; i++) into[i] = population[(int)Math.Floor(NextDouble() * n)];
    }
}
