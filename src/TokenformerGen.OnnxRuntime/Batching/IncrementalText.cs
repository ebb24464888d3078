using System.Runtime.InteropServices;
using TokenformerGen.Text.Data;

namespace TokenformerGen.OnnxRuntime.Batching;

// The text of generated tokens as it grows, handed out in pieces that never change afterwards: a trailing U+FFFD (a
// character whose bytes have not all arrived) and a tail that may begin a stop sequence are held back until the next
// token settles them. At a stop sequence the text before it is the last piece.
internal sealed class IncrementalText(ITextTokenizer tokenizer, IReadOnlyList<string> stops)
{
    private readonly List<int> _ids = [];
    private string _text = "";
    private int _emitted;

    public bool Stopped { get; private set; }

    public string Add(long token)
    {
        _ids.Add((int)token);
        _text = tokenizer.Decode(CollectionsMarshal.AsSpan(_ids));
        var longest = stops.Count == 0 ? 0 : stops.Max(s => s.Length);
        var from = Math.Max(0, _emitted - longest + 1);
        var stop = stops.Select(s => _text.IndexOf(s, from, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (stop >= 0)
        {
            Stopped = true;
            return Take(Math.Max(stop, _emitted));
        }
        var end = _text.Length;
        while (end > _emitted && _text[end - 1] == '\uFFFD') end--;
        var settled = end;
        foreach (var s in stops)
        {
            for (var k = Math.Min(s.Length - 1, settled - _emitted); k > 0; k--)
            {
                if (_text.AsSpan(settled - k, k).SequenceEqual(s.AsSpan(0, k)))
                {
                    end = Math.Min(end, settled - k);
                    break;
                }
            }
        }
        return Take(end);
    }

    // What is left once no token follows.
    public string Flush() => Stopped ? "" : Take(_text.Length);

    private string Take(int end)
    {
        var piece = _text[_emitted..end];
        _emitted = end;
        return piece;
    }
}
