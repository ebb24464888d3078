using System.Text;

namespace TokenformerGen.Text.Data;

/// <summary>
/// UTF-8 bytes as tokens: id <c>b</c> is byte <c>b</c>, vocabulary 256. A model pads its vocabulary beyond
/// 256 rows; decoding such an id (≥ 256, or negative) yields U+FFFD in its place rather than failing, so
/// a sample from an untrained model still prints. Invalid UTF-8 byte runs also decode to U+FFFD.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    /// <summary>The one instance (the tokenizer has no state).</summary>
    public static ByteTokenizer Instance { get; } = new();

    private static readonly UTF8Encoding Lenient = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <inheritdoc/>
    public string Name => "byte";

    /// <inheritdoc/>
    public string Identity => "byte/utf8/v1";

    /// <inheritdoc/>
    public int VocabularySize => 256;

    /// <summary>0 (NUL, which text does not contain), as the official trainer's byte-level <c>CharLevelTokenizer</c> uses.</summary>
    public int? EndOfText => 0;

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Lenient.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        var run = new byte[Math.Min(ids.Length, 4096)];
        var length = 0;
        foreach (var id in ids)
        {
            if ((uint)id < 256)
            {
                if (length == run.Length) Array.Resize(ref run, run.Length * 2);
                run[length++] = (byte)id;
                continue;
            }
            text.Append(Lenient.GetString(run, 0, length)).Append('\uFFFD');
            length = 0;
        }
        return text.Append(Lenient.GetString(run, 0, length)).ToString();
    }

    /// <inheritdoc/>
    public long CountBytes(ReadOnlySpan<int> ids)
    {
        long count = 0;
        foreach (var id in ids) if ((uint)id < 256) count++;
        return count;
    }
}
