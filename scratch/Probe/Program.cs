using System.Diagnostics;
using TokenformerGen.Growth;
using static TorchSharp.torch;
set_num_threads(1);
var sw = Stopwatch.StartNew();
long total = 0;
for (int i = 0; i < 12; i++) {
  foreach (var rows in new long[]{1564,1564,1564,1564,6256}) {
    NewRowDraws.ForEachChunk("layers."+i+".x"+rows, rows, 768, 0.02, 1, (f, c) => { total += c.NumberOfElements; });
  }
}
Console.WriteLine($"draw {total/1e6:F1}M normals: {sw.Elapsed.TotalSeconds:F2}s");
sw.Restart();
using var t = empty(1<<20, float32);
for (int i=0;i<110;i++) t.uniform_(0,1);
Console.WriteLine($"uniform 110M: {sw.Elapsed.TotalSeconds:F2}s");
