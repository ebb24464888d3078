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
columns = {"Δ vs Large from scratch": "Tokenformer Large from scratch", "Δ vs G_stack": "TinyKjvStacked grown",
           "Δ vs Transformer twin": "TinyKjvStacked Large from scratch"}
print(f"Budget scale {scale}; whole test split (validation in brackets); Δ(C) = reference − variant, per seed pair "
      f"{', '.join(s.replace('-', '/') for s in seeds)}; frontier gap = best from-scratch model of any size − variant.\n")
print(f"| family | span | pre-Large share | FLOPs | final loss (validation) | {' | '.join(columns)} | frontier gap |")
print("| --- | ---: | ---: | ---: | --- |" + " ---: |" * (len(columns) + 1))
for family in variants:
    folders = {seed: variant(family, seed) for seed in seeds}
    if all(r is None for r in folders.values()):
        continue
    stages = next(r for r in folders.values() if r is not None)["progressive"]["stages"]
    flops = sum(s["flops"] for s in stages)
    share = sum(s["flops"] for s in stages[:-1]) / flops
    span = stages[-1]["parameters"] / stages[0]["parameters"]
    final = {seed: r["progressive"]["stages"][-1] for seed, r in folders.items() if r is not None}
    for seed, r in folders.items():
        if r is not None:
            total = sum(st["flops"] for st in r["progressive"]["stages"])
            assert all(v[0] >= total * 0.9999 for v in refs[seed].values()), f"a reference of {family} has less compute"

    def per_seed(cell):
        return ", ".join("-" if seed not in final else cell(seed, final[seed]["full_test_loss"]) for seed in seeds)

    def delta(reference):
        return per_seed(lambda seed, loss: "-" if reference not in refs[seed] else f"{refs[seed][reference][1] - loss:+.3f}")

    losses = per_seed(lambda seed, loss: f"{loss:.4f} ({final[seed]['validation_loss']:.4f})")
    frontier = per_seed(lambda seed, loss: f"{min(v[1] for k, v in refs[seed].items() if k.endswith('from scratch')) - loss:+.3f}")
    print(f"| {family} | {span:.1f}x | {share:.2f} | {flops:.3e} | {losses} | {' | '.join(delta(r) for r in columns.values())} | {frontier} |")
