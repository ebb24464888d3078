using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Primitives;
using TokenformerGen.Text.Families;

namespace TokenformerGen.Generator.Tests.Generated;

/// <summary>The attribute twin of EndToEnd.tfmodel.yaml, compiled by the real build of this project.</summary>
[TokenformerFamily(Tokenizer = TokenizerKind.Byte, Vocabulary = 256, Context = 32, Layers = 2, Hidden = 32, Heads = 2, Tau = TauPolicy.Fixed)]
[TokenformerStage("Small", Qkv = 8, Proj = 8, Ffn = 16)]
[TokenformerStage("Grown", From = "Small", Growth = GrowthPolicy.ZeroKeys, Qkv = 16, Proj = 8, Ffn = 32)]
internal static partial class DeclaredEndToEndFamily
{
}
