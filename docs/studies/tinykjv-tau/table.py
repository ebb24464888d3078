#!/usr/bin/env python3
"""Issue 25's τ control: final losses of every side at each τ, read from the stages' checkpoints (their metadata holds
the stage's result, so a later report that rewrote a run folder's summary.md loses nothing here).

usage: table.py RUNS   (RUNS: the folder holding p1/, p1lr/, p3/, tau/ and span/)"""
import json, struct, sys
from pathlib import Path

RUNS = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/runs")
SEEDS = {"1234": "seed-1234-1", "7": "seed-7-2"}

def result(checkpoint):
    """(validation loss, whole-test loss) of a finished stage, or None."""
    if not checkpoint.exists():
        return None
    with open(checkpoint, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    r = json.loads(header["__metadata__"]["schedule_result"])
    return r["ValidationLoss"], r["FullTestLoss"]

def folder(scale, seed, rate):
    """The TinyKjv run folder of a scale, seed and peak rate (P1 at the default 2e-3, P1' otherwise)."""
    if rate == "2e-3":
        return RUNS / "p1" / f"scale-{scale}" / SEEDS[seed]
    if scale == 4 and seed == "7":
        return RUNS / "p1lr" / "scale-4" / "seed-7-2-lr-1e-3-twin-3e-3" if rate == "1e-3" else None
    if seed == "7":
        return RUNS / "p1lr" / f"scale-{scale}" / f"seed-7-2-lr-{rate}"
    return RUNS / "p1lr" / f"scale-{scale}" / f"lr-{rate}"

# (side, τ of qkv/proj/ffn, checkpoint of Large for a scale, seed and rate)
CELLS = [
    ("grown TinyKjv, old default", "√32/√32/√128", lambda s, d, r: folder(s, d, r) and folder(s, d, r) / "progressive" / "Large.safetensors"),
    ("grown TinyKjvTau64", "√64/√64/√256", lambda s, d, r: RUNS / "tau" / f"TinyKjvTau64-scale{s}" / (SEEDS[d] if r == "2e-3" else f"lr-{r}") / "progressive" / "Large.safetensors"),
    ("grown TinyKjvTau128 (TinyKjv now)", "√128/√128/√512", lambda s, d, r: RUNS / "tau" / f"TinyKjvTau128-scale{s}" / SEEDS[d] / "progressive" / "Large.safetensors" if r == "2e-3" else None),
    ("grown TinyKjvTau256", "√256/√256/√1024", lambda s, d, r: RUNS / "tau" / f"TinyKjvTau256-scale{s}" / SEEDS[d] / "progressive" / "Large.safetensors" if r == "2e-3" else None),
    ("grown TinyKjvSpan2", "√64/√64/√256", lambda s, d, r: RUNS / "p3" / f"TinyKjvSpan2-scale{s}" / SEEDS[d] / "progressive" / "Large.safetensors" if r == "2e-3" else None),
    ("grown TinyKjvSpan2Tau128", "√128/√128/√512", lambda s, d, r: RUNS / "span" / f"TinyKjvSpan2Tau128-scale{s}" / SEEDS[d] / "progressive" / "Large.safetensors" if r == "2e-3" else None),
    ("Large from scratch", "√32/√32/√128", lambda s, d, r: folder(s, d, r) and folder(s, d, r) / "scratch" / "Large.safetensors"),
    # Span2's own Large from scratch: 0.1% less compute than TinyKjv's, but the same 2,184 steps, so the same model (seed 1234/1 equal to the digit).
    ("Large from scratch (TinyKjvSpan2's on seed 7/2)", "√64/√64/√256", lambda s, d, r: (RUNS / "p3" / f"TinyKjvSpan2-scale{s}-largest" / SEEDS[d] / "scratch" / "Large.safetensors" if d == "7" else RUNS / "tau" / f"TinyKjvTau64-scale{s}" / SEEDS[d] / "scratch" / "Large.safetensors") if r == "2e-3" else None),
    ("Large from scratch", "√128/√128/√512", lambda s, d, r: folder(s, d, r) and folder(s, d, r) / "baseline-TinyKjvLarge" / "scratch" / "Large.safetensors"),
    ("Large from scratch", "√256/√256/√1024", lambda s, d, r: folder(s, d, r) and folder(s, d, r) / "baseline-TinyKjvLargeTau256" / "scratch" / "Large.safetensors"),
    ("Large from scratch", "√512/√512/√2048", lambda s, d, r: folder(s, d, r) and folder(s, d, r) / "baseline-TinyKjvLargeTau512" / "scratch" / "Large.safetensors"),
]

print("| side | τ qkv/proj/ffn | scale | rate | validation, seed 1234/1 | validation, seed 7/2 | whole test, seed 1234/1 | whole test, seed 7/2 |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for scale in (1, 2, 4, 8):
    for rate in ("2e-3", "1e-3"):
        for side, tau, where in CELLS:
            found = {d: result(p) if (p := where(scale, d, rate)) else None for d in SEEDS}
            if not any(found.values()):
                continue
            val = [f"{v[0]:.4f}" if v else "" for v in found.values()]
            test = [f"{v[1]:.4f}" if v else "" for v in found.values()]
            print(f"| {side} | {tau} | {scale} | {rate} | {' | '.join(val)} | {' | '.join(test)} |")

# TinyKjv at Large's own τ (TinyKjvTau128's runs; TinyKjv's spec from be84e6e on) against every reference of the same
# compute: Δ(C) = reference − grown, whole test, seed pairs 1234/1 and 7/2.
GROWN = lambda s, d: RUNS / "tau" / f"TinyKjvTau128-scale{s}" / SEEDS[d] / "progressive" / "Large.safetensors"
REFERENCES = [
    ("grown TinyKjv at Small's τ (the old default)", lambda s, d: folder(s, d, "2e-3") / "progressive" / "Large.safetensors"),
    ("Tokenformer Large from scratch, own τ, 2e-3", lambda s, d: folder(s, d, "2e-3") / "baseline-TinyKjvLarge" / "scratch" / "Large.safetensors"),
    ("Tokenformer Large from scratch, own τ, 1e-3", lambda s, d: (folder(s, d, "1e-3") or RUNS / "none") / "baseline-TinyKjvLarge" / "scratch" / "Large.safetensors"),
    ("G_stack-grown Transformer 1 → 2 → 4 layers", lambda s, d: folder(s, d, "2e-3") / "baseline-TinyKjvStacked" / "progressive" / "Large.safetensors"),
    ("Transformer twin, 4 layers, from scratch", lambda s, d: folder(s, d, "2e-3") / "baseline-TinyKjvStacked" / "scratch" / "Large.safetensors"),
    ("Transformer, 2 layers, from scratch", lambda s, d: folder(s, d, "2e-3") / "baseline-TinyKjvStacked" / "scratch" / "Medium.safetensors"),
    ("Tokenformer Medium from scratch (Small's τ)", lambda s, d: folder(s, d, "2e-3") / "scratch" / "Medium.safetensors"),
    ("Tokenformer Small from scratch (its own τ)", lambda s, d: folder(s, d, "2e-3") / "scratch" / "Small.safetensors"),
]
print()
print("| reference | " + " | ".join(f"scale {s}: Δ(C)" for s in (1, 4, 8)) + " |")
print("| --- | ---: | ---: | ---: |")
grown = {(s, d): result(GROWN(s, d)) for s in (1, 4, 8) for d in SEEDS}
print("| **grown, Large's τ (loss)** | " + " | ".join(", ".join(f"{grown[s, d][1]:.4f}" if grown[s, d] else "–" for d in SEEDS) for s in (1, 4, 8)) + " |")
for name, where in REFERENCES:
    cells = []
    for s in (1, 4, 8):
        gaps = [f"{r[1] - g[1]:+.3f}" if (g := grown[s, d]) and (r := result(where(s, d))) else "–" for d in SEEDS]
        cells.append(", ".join(gaps))
    print(f"| {name} | " + " | ".join(cells) + " |")
