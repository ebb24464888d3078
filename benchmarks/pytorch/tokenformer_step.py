"""Reference training step in eager PyTorch for figure 12 (issue 17): the released TokenFormer-150M shape written
from the paper as a PyTorch user would write it (Pattention l2_norm_gelu with tau = sqrt(n), non-parametric pre-LN,
GPT-NeoX partial rotary, causal softmax attention, affine final LayerNorm, tied head), trained with torch.optim.AdamW
(betas 0.9/0.95, weight decay 0.1 on matrices) and gradient clipping at 1.0.

Run (Debian 12: apt-get install python3-torch libopenblas0-pthread):
    python3 benchmarks/pytorch/tokenformer_step.py --batch 1 --context 128 --steps 6 --threads 1

Prints one line per step: "step <i> <seconds> <loss>"; the benchmark reads them.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {  # layers, hidden, heads, qkv tokens, proj tokens, ffn tokens, padded vocabulary
    "150M": (12, 768, 12, 768, 768, 3072, 50304),
    "P354M": (12, 768, 12, 2140, 2140, 8560, 50304),
    "tiny": (2, 128, 4, 128, 128, 512, 256),  # the benchmarks' BenchTiny, for smoke runs
}


class Pattention(torch.nn.Module):
    def __init__(self, d_in, n, d_out, value_std):
        super().__init__()
        self.key_param_tokens = torch.nn.Parameter(torch.randn(n, d_in) * 0.02)
        self.value_param_tokens = torch.nn.Parameter(torch.randn(n, d_out) * value_std)
        self.tau = math.sqrt(n)

    def forward(self, x):
        scores = x @ self.key_param_tokens.t()
        scores = scores / scores.norm(dim=-1, keepdim=True) * self.tau
        return F.gelu(scores) @ self.value_param_tokens


def rotate(x, cos, sin, dims):
    rotated, rest = x[..., :dims], x[..., dims:]
    x1, x2 = rotated[..., : dims // 2], rotated[..., dims // 2:]
    rotated = rotated * cos + torch.cat([-x2, x1], dim=-1) * sin
    return torch.cat([rotated, rest], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, d, heads, qkv, proj, ffn, value_std):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (Pattention(d, qkv, d, value_std) for _ in range(3))
        self.proj = Pattention(d, proj, d, value_std)
        self.mlp = Pattention(d, ffn, d, value_std)

    def forward(self, x, cos, sin, dims, mask):
        b, t, d = x.shape
        h = F.layer_norm(x, (d,))
        q, k, v = (m(h).view(b, t, self.heads, -1).transpose(1, 2) for m in (self.query, self.key, self.value))
        q, k = rotate(q, cos, sin, dims), rotate(k, cos, sin, dims)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        attended = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(F.layer_norm(x, (d,)))


class Tokenformer(torch.nn.Module):
    def __init__(self, layers, d, heads, qkv, proj, ffn, vocab):
        super().__init__()
        value_std = 2 / (layers * math.sqrt(d))
        self.embedding = torch.nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(d, heads, qkv, proj, ffn, value_std) for _ in range(layers))
        self.final_norm = torch.nn.LayerNorm(d)
        self.rotary_dims = int(0.25 * d // heads)

    def forward(self, tokens):
        t = tokens.shape[1]
        inverse = 10000 ** (-torch.arange(0, self.rotary_dims, 2).float() / self.rotary_dims)
        angles = torch.outer(torch.arange(t).float(), inverse)
        angles = torch.cat([angles, angles], dim=-1)
        cos, sin = angles.cos(), angles.sin()
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = F.embedding(tokens, self.embedding)
        for block in self.blocks:
            x = block(x, cos, sin, self.rotary_dims, mask)
        return self.final_norm(x) @ self.embedding.t()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="150M", choices=sorted(SHAPES))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    layers, d, heads, qkv, proj, ffn, vocab = SHAPES[args.shape]
    model = Tokenformer(layers, d, heads, qkv, proj, ffn, vocab)
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=6e-4, betas=(0.9, 0.95), eps=1e-8)
    generator = torch.Generator().manual_seed(7)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    for step in range(args.steps):
        batch = torch.randint(0, vocab, (args.batch, args.context + 1), generator=generator)
        start = time.perf_counter()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.view(-1, vocab), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        seconds = time.perf_counter() - start
        print(f"step {step} {seconds:.6f} {loss.item():.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
