#!/usr/bin/env python3
"""P3 of issue 25: the span and pre-Large-share variants of TinyKjv against TinyKjv and its references.

Reads the run folders' results.json (progressive runs of the variants, `run --scratch none`) and the P1 study's
folders (TinyKjv progressive and its from-scratch references, `--scratch frontier`), all at budget scale 1, and prints
a Markdown table of final losses on the whole test split and Δ(C) = reference − variant per seed.
Every variant spends at most TinyKjv's 8.14e12 FLOPs, so every reference has at least its compute.
Usage: aggregate.py RUNS (the folder holding p1/ and p3/).
"""
import json, os, sys

runs = sys.argv[1] if len(sys.argv) > 1 else "/work/runs"
seeds = ["1234-1", "7-2"]
variants = ["TinyKjv", "TinyKjvShare60", "TinyKjvShare20", "TinyKjvShare10", "TinyKjvSpan2", "TinyKjvSpan11"]


def final(stage):
    return stage["full_test_loss"]


def progressive(family, seed):
    path = (os.path.join(runs, "p1", "scale-1", f"seed-{seed}", "results.json") if family == "TinyKjv"
            else os.path.join(runs, "p3", family, f"seed-{seed}", "results.json"))
    if not os.path.exists(path):
        return None
    stages = json.load(open(path))["progressive"]["stages"]
    return sum(s["flops"] for s in stages), final(stages[-1]), len(stages), stages[0]["parameters"], stages[-1]["parameters"]


def references(seed):
    r = json.load(open(os.path.join(runs, "p1", "scale-1", f"seed-{seed}", "results.json")))
    return {s["stage"]: (s["flops"], final(s)) for s in r["scratch"]["stages"]}


refs = {seed: references(seed) for seed in seeds}
print("| family | span | pre-Large share | FLOPs | final loss 1234/1, 7/2 | Δ vs Large from scratch | frontier gap (vs Small from scratch) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for family in variants:
    rows = [progressive(family, seed) for seed in seeds]
    if rows[0] is None:
        continue
    flops, _, _, first, last = rows[0]
    path = (os.path.join(runs, "p1", "scale-1", "seed-1234-1", "results.json") if family == "TinyKjv"
            else os.path.join(runs, "p3", family, "seed-1234-1", "results.json"))
    stages = json.load(open(path))["progressive"]["stages"]
    share = sum(s["flops"] for s in stages[:-1]) / flops
    losses = ", ".join("-" if r is None else f"{r[1]:.4f}" for r in rows)
    large = ", ".join("-" if r is None else f"{refs[s]['Large'][1] - r[1]:+.3f}" for r, s in zip(rows, seeds))
    small = ", ".join("-" if r is None else f"{min(v[1] for v in refs[s].values()) - r[1]:+.3f}" for r, s in zip(rows, seeds))
    assert all(r is None or max(v[0] for v in refs[s].values()) >= r[0] for r, s in zip(rows, seeds)), "a reference has less compute"
    print(f"| {family} | {last / first:.1f}x | {share:.2f} | {flops:.3e} | {losses} | {large} | {small} |")
