#!/usr/bin/env python3
"""P3 of issue 25: the span, pre-Large-share and depth variants of TinyKjv against TinyKjv and its references.

Reads the run folders' results.json (progressive runs of the variants, `run --scratch none`) and the P1 study's
folders (TinyKjv progressive, its from-scratch references with `--scratch frontier` and, where present, the
TinyKjvStacked baseline), all at one budget scale, and prints a Markdown table per seed pair of the final losses on the
whole test split (validation in brackets: choices are read there) and Δ(C) = reference − variant.
Every variant spends at most TinyKjv's FLOPs, so every reference has at least its compute.
Usage: aggregate.py RUNS [SCALE] (RUNS holds p1/ and p3/; a variant at scale s > 1 is in p3/FAMILY-scale{s}/, depth
growth at scale 1 in p3-depth/scale-1/).
"""
import json, os, sys

runs = sys.argv[1] if len(sys.argv) > 1 else "/work/runs"
scale = sys.argv[2] if len(sys.argv) > 2 else "1"
seeds = ["1234-1", "7-2"]
variants = ["TinyKjv", "TinyKjvShare60", "TinyKjvShare20", "TinyKjvShare10", "TinyKjvSpan2", "TinyKjvSpan11", "TinyKjvDepth"]


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def p1(seed):
    return load(os.path.join(runs, "p1", f"scale-{scale}", f"seed-{seed}", "results.json"))


def variant(family, seed):
    if family == "TinyKjv":
        return p1(seed)
    if family == "TinyKjvDepth" and scale == "1":  # its scale-1 runs are a study of their own (docs/scaling.md)
        return load(os.path.join(runs, "p3-depth", "scale-1", f"seed-{seed}", "results.json"))
    folder = family if scale == "1" else f"{family}-scale{scale}"
    return load(os.path.join(runs, "p3", folder, f"seed-{seed}", "results.json"))


def references(seed):
    """Name → (FLOPs, whole-test loss) of every reference in the P1 folder: Tokenformers from scratch, G_stack, its stages."""
    r = p1(seed)
    refs = {f"Tokenformer {s['stage']} from scratch": (s["flops"], s["full_test_loss"]) for s in r["scratch"]["stages"]}
    for b in r.get("baselines") or []:
        if b.get("progressive"):
            stages = b["progressive"]["stages"]
            refs[f"{b['family']} grown"] = (sum(s["flops"] for s in stages), stages[-1]["full_test_loss"])
        for s in (b.get("scratch") or {}).get("stages", []):
            refs[f"{b['family']} {s['stage']} from scratch"] = (s["flops"], s["full_test_loss"])
    return refs


refs = {seed: references(seed) for seed in seeds}
names = ["Tokenformer Large from scratch", "TinyKjvStacked grown", "TinyKjvStacked Large from scratch"]
print(f"Budget scale {scale}; whole test split (validation in brackets); Δ(C) = reference − variant, per seed pair "
      f"{', '.join(s.replace('-', '/') for s in seeds)}; frontier gap = best from-scratch model of any size − variant.\n")
print("| family | span | pre-Large share | FLOPs | final loss (validation) | Δ vs Large from scratch | Δ vs G_stack | Δ vs Transformer twin | frontier gap |")
print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
for family in variants:
    results = [variant(family, seed) for seed in seeds]
    if all(r is None for r in results):
        continue
    first = next(r for r in results if r is not None)["progressive"]["stages"]
    flops = sum(s["flops"] for s in first)
    share = sum(s["flops"] for s in first[:-1]) / flops
    span = first[-1]["parameters"] / first[0]["parameters"]
    finals = [None if r is None else r["progressive"]["stages"][-1] for r in results]
    losses = ", ".join("-" if f is None else f"{f['full_test_loss']:.4f} ({f['validation_loss']:.4f})" for f in finals)

    def delta(name):
        cells = []
        for f, seed in zip(finals, seeds):
            ref = refs[seed].get(name)
            cells.append("-" if f is None or ref is None else f"{ref[1] - f['full_test_loss']:+.3f}")
        return ", ".join(cells)

    frontier = ", ".join("-" if f is None else f"{min(v[1] for k, v in refs[s].items() if 'from scratch' in k) - f['full_test_loss']:+.3f}"
                         for f, s in zip(finals, seeds))
    for f, s in zip(finals, seeds):
        if f is not None:
            total = sum(st["flops"] for st in variant(family, s)["progressive"]["stages"])
            assert all(v[0] >= total * 0.9999 for v in refs[s].values()), f"a reference of {family} has less compute"
    print(f"| {family} | {span:.1f}x | {share:.2f} | {flops:.3e} | {losses} | {delta(names[0])} | {delta(names[1])} | "
          f"{delta(names[2])} | {frontier} |")
