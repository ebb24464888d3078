// A fresh consumer of the TokenformerGen.Generator package: a YAML family (Pack.tfmodel.yaml, picked
// up by the package's props) and an attribute family, both generated at build time.
using System.Globalization;
using Consumer.Models;
using TokenformerGen.Data;
using TokenformerGen.Declarations;
using TokenformerGen.Families;
using TokenformerGen.Growth;
using TokenformerGen.Modules;
using TokenformerGen.Onnx;
using TokenformerGen.OnnxRuntime;
using TorchSharp;
using TokenformerGen.Text.Families;
using TokenformerGen.Text.Data;

var small = new PackSmall();
small.InitializeFromScratch(seed: 7);
using var tokens = torch.randint(0, PackFamily.VocabularySize, new long[] { 2, 8 }, dtype: torch.int64);
using (torch.no_grad())
{
    using var logits = small.call(tokens);
    Console.WriteLine("small logits " + string.Join("x", logits.shape));

    // tau: fixed + zero_keys: the grown model computes the same function.
    using var grown = PackLarge.GrowFrom(small, new GrowthOptions { Policy = GrowthPolicy.ZeroKeys, Seed = 3 });
    using var grownLogits = grown.call(tokens);
    Console.WriteLine("grown logits " + string.Join("x", grownLogits.shape));
    var difference = (grownLogits - logits).abs().max().item<float>();
    Console.WriteLine("max difference " + difference.ToString("R", CultureInfo.InvariantCulture));

    // The grown model exported to ONNX and run by the packaged ONNX Runtime library: the same logits.
    var folder = Path.Combine(Path.GetTempPath(), "consumer-onnx-" + Guid.NewGuid().ToString("N"));
    OnnxExport.Write(grown, folder);
    using (var exported = OnnxTokenformer.Load(folder, threads: 1))
    using (var cache = exported.CreateCache(batch: 2))
    {
        var onnxLogits = exported.Run(tokens.data<long>().ToArray(), cache);
        var expected = grownLogits.contiguous().data<float>().ToArray();
        var onnxDifference = onnxLogits.Zip(expected, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine("onnx difference " + onnxDifference.ToString("R", CultureInfo.InvariantCulture));
    }
    Directory.Delete(folder, recursive: true);
}

Console.WriteLine("declared " + DeclaredFamily.Name + " " + DeclaredFamily.Only.Parameters.ToString(CultureInfo.InvariantCulture));
Console.WriteLine("registry " + string.Join(",", ModelRegistry.Families.Select(f => f.Name)));
Console.WriteLine("neox " + string.Join(",", NeoXTokenizer.Instance.Encode("Hello world")));

namespace Consumer.Models
{
    /// <summary>The attribute front end through the package.</summary>
    [TokenformerFamily(Tokenizer = TokenizerKind.Byte, Vocabulary = 256, Context = 16, Layers = 1, Hidden = 16, Heads = 2)]
    [TokenformerStage("Only", Qkv = 4, Proj = 4, Ffn = 8)]
    internal static partial class DeclaredFamily
    {
    }
}
