namespace TokenformerGen.Data;

/// <summary>
/// Splits a long text into chunks of about a target size at points where GPT-2-style pre-tokenization (the
/// regex every byte-level BPE here uses) is guaranteed to split anyway, so encoding chunk by chunk gives exactly
/// the ids of encoding the whole text, with bounded memory.
/// </summary>
/// <remarks>
/// A cut goes (a) right after a newline that has a non-space character before it and a non-space character
/// after it (the newline is a pre-token of its own either way), or else (b) between a letter and a single space
/// followed by a letter (the pre-tokenizer ends a letter run there and starts " word"). Only when no such point
/// exists within 8× the target (megabytes without a newline or word break) is the text cut anywhere outside a
/// surrogate pair, where a token may then differ from whole-text encoding.
/// </remarks>
internal static class TextChunks
{
    public const int DefaultTarget = 1 << 20;

    public static IEnumerable<string> Read(TextReader reader, int target = DefaultTarget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(target, 1);
        var buffer = new char[Math.Max(target * 2, 1024)];
        var length = 0;
        var block = new char[Math.Min(Math.Max(target, 256), 1 << 16)];
        int read;
        while ((read = reader.Read(block, 0, block.Length)) > 0)
        {
            if (length + read > buffer.Length) Array.Resize(ref buffer, Math.Max(buffer.Length * 2, length + read));
            Array.Copy(block, 0, buffer, length, read);
            length += read;
            while (length > target)
            {
                var cut = FindCut(buffer, length, target);
                if (cut < 0)
                {
                    if (length < 8L * target) break;
                    cut = 8 * target;
                    if (char.IsHighSurrogate(buffer[cut - 1])) cut--;
                }
                yield return new string(buffer, 0, cut);
                Array.Copy(buffer, cut, buffer, 0, length - cut);
                length -= cut;
            }
        }
        if (length > 0) yield return new string(buffer, 0, length);
    }

    /// <summary>The first safe cut at or after <paramref name="from"/> (one that leaves text after it), or −1.</summary>
    internal static int FindCut(char[] text, int length, int from)
    {
        var wordBreak = -1;
        for (var i = Math.Max(from, 2); i < length - 1; i++)
        {
            if (text[i - 1] == '\n' && !char.IsWhiteSpace(text[i - 2]) && !char.IsWhiteSpace(text[i])) return i;
            if (wordBreak < 0 && text[i] == ' ' && char.IsLetter(text[i - 1]) && char.IsLetter(text[i + 1])) wordBreak = i;
            if (wordBreak >= 0 && i - wordBreak > 4096) break;   // prefer a line break, but not at any distance
        }
        return wordBreak;
    }
}
