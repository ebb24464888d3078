namespace TokenformerGen.Generator.Tests.Infrastructure;

/// <summary>Spec texts for tests: a small valid family whose line numbers the tests refer to.</summary>
internal static class Specs
{
    public const string Path = "/specs/Tiny.tfmodel.yaml";

    /// <summary>
    /// Valid. Lines: 1 schema, 2 family, 3 namespace, 4 tokenizer, 5 vocab, 6 context, 7 architecture,
    /// 8 layers, 9 hidden, 10 heads, 11 rotary, 12 pattention, 13 init, 14 tied_embeddings, 15 stages,
    /// 16 "- name: Small", 17 tokens, 18 train, 19 "- name: Large", 20 from, 21 growth, 22 tokens.
    /// </summary>
    public const string Tiny =
        """
        schema: tokenformer/v1
        family: Tiny
        namespace: Test.Models
        tokenizer: byte
        vocab: { size: 256, pad_to_multiple: 64 }
        context: 64
        architecture:
          layers: 2
          hidden: 64
          heads: 4
          rotary: { fraction: 0.25, base: 10000 }
          pattention: { norm: l2_norm_gelu, tau: fixed, epsilon: 0 }
          init: { key_std: 0.02, value: wang, embedding_std: 0.02 }
          tied_embeddings: true
        stages:
          - name: Small
            tokens: { qkv: 32, proj: 32, ffn: 128 }
            train: { tokens: 100_000, learning_rate: 6.0e-4, warmup: 0.01, batch: 8 }
          - name: Large
            from: Small
            growth: zero_keys
            tokens: { qkv: 64, proj: 64, ffn: 256 }

        """;

    /// <summary><see cref="Tiny"/> with 1-based line <paramref name="line"/> replaced (by several lines, or none).</summary>
    public static string Replace(int line, string replacement) => Replace(Tiny, line, replacement);

    public static string Replace(string text, int line, string replacement)
    {
        var lines = text.Split('\n').ToList();
        lines.RemoveAt(line - 1);
        if (replacement.Length > 0)
        {
            lines.InsertRange(line - 1, replacement.Split('\n'));
        }

        return string.Join('\n', lines);
    }

    /// <summary>Applies several line replacements, highest line first so numbers stay valid.</summary>
    public static string Edit(params (int Line, string Replacement)[] edits)
        => edits.OrderByDescending(e => e.Line).Aggregate(Tiny, (text, e) => Replace(text, e.Line, e.Replacement));
}
