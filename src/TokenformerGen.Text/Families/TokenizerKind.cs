// Shared verbatim with the source generator (linked into generators/). Keep it plain C# that compiles for netstandard2.0.
namespace TokenformerGen.Text.Families;

/// <summary>Which tokenizer a family's vocabulary was built for (spec: <c>tokenizer</c>).</summary>
public enum TokenizerKind
{
    /// <summary><c>byte</c>: bytes 0..255 (plus padding).</summary>
    Byte,
    /// <summary><c>gpt2</c>: GPT-2 BPE (50,257 tokens).</summary>
    Gpt2,
    /// <summary><c>neox</c>: the GPT-NeoX-20B BPE of the released models (50,277 ids), shipped with the runtime (<c>NeoXTokenizer</c>).</summary>
    NeoX,
}
