#!/usr/bin/env python3
"""Writes golden.json for package neuronsets: an independent, standard-library-only re-statement of
the reference code's neuron choice (RW_functionalities neuron_choice.py: neuron_choice and
random_baseline, paper-spec section 3) applied to planted class grids and to the embedded tiny-olmo.

Usage (from the repository root):
    python3 neuronsets/testdata/golden.py > neuronsets/testdata/golden.json

Classes are numbered in the paper's table order (package experiments/classes):
"""
import json
import random
import sys

NAMES = ["strengthening", "atypical strengthening", "conditional strengthening",
         "atypical conditional strengthening", "proportional change", "atypical proportional change",
         "orthogonal output", "weakening", "atypical weakening", "conditional weakening",
         "atypical conditional weakening"]
SEED = 2512800


def choose(grid, cls, subset):
    """The selected neurons and baseline, or an error string, as the reference computes them."""
    random.seed(SEED)
    n_layers, d_mlp = len(grid), len(grid[0])
    members = [(l, n) for l in range(n_layers) for n in range(d_mlp) if grid[l][n] == cls]
    chosen = members
    if subset is not None:
        if isinstance(subset, float):
            if not 0 < subset <= 1:
                return {"error": "fraction"}
            subset = int(subset * len(members))
        elif isinstance(subset, str):
            subset = sum(row.count(NAMES.index(subset)) for row in grid)
        if subset < len(members):
            chosen = random.sample(members, subset)
        elif subset > len(members):
            return {"error": "larger"}
    if not chosen:
        return {"error": "empty"}
    counts = [0] * n_layers
    for l, _ in chosen:
        counts[l] += 1
    baseline, warned = [], []
    for l, c in enumerate(counts):
        if c == 0:
            continue
        others = [n for n in range(d_mlp) if grid[l][n] != cls]
        if c < d_mlp / 2:
            if c > len(others):  # random.sample raises ValueError
                return {"neurons": ["%d.%d" % t for t in chosen], "baseline_error": "too few others"}
            others = random.sample(others, c)
        else:
            warned.append(l)
        baseline.extend((l, n) for n in others)
    return {"neurons": ["%d.%d" % t for t in chosen], "baseline": ["%d.%d" % t for t in baseline],
            "warned_layers": warned}


def set_name(cls, subset):
    name = NAMES[cls]
    if subset is None or subset == name:
        return name
    if isinstance(subset, str):
        return name + "_" + subset
    return name + repr(subset)


def planted(seed, n_layers, d_mlp, weights):
    """A grid with per-layer class weights: weights[l] maps class -> relative weight."""
    rng = random.Random(seed)
    grid = []
    for l in range(n_layers):
        w = weights[l % len(weights)]
        classes = sorted(w)
        grid.append(rng.choices(classes, weights=[w[c] for c in classes], k=d_mlp))
    return grid


S, AS, CS, ACS, PC, APC, OO, W, AW, CW, ACW = range(11)


def grids():
    small = planted(1, 6, 40, [
        {OO: 30, W: 3, S: 2, CW: 4, PC: 1},
        {OO: 20, W: 1, CS: 10, CW: 9},
        {W: 26, OO: 10, S: 4},           # weakening covers more than half of this layer
        {OO: 36, CW: 3, AW: 1},
        {OO: 1, CS: 39},                 # conditional strengthening almost everywhere
        {OO: 30, W: 5, S: 5},
    ])
    big = planted(2, 4, 1000, [
        {OO: 600, W: 80, S: 30, CW: 200, PC: 90},
        {OO: 800, W: 20, CS: 100, CW: 80},
    ])
    out = {"small": small, "big": big}
    try:
        fx = json.load(open("testdata/fixtures/tiny-olmo-rw-golden.json"))
        out["tiny-olmo"] = [[NAMES.index(c) for c in row] for row in fx["tl"]["class"]]
    except OSError as e:
        sys.exit("run from the repository root: %s" % e)
    return out


def cases(grid, only=None):
    sizes = [sum(row.count(c) for row in grid) for c in range(11)]
    out = []
    for cls in (range(11) if only is None else only):
        subs = [None, 1, 2, 5, 24, 0.5, 0.1, 0.01, 1.0, 0.001, "strengthening", "weakening",
                "conditional weakening", sizes[cls], sizes[cls] + 1, 0]
        for sub in subs:
            if cls == OO and sizes[OO] > 2000 and sub not in (None, 24, 0.01, "weakening"):
                continue
            out.append((cls, sub))
    return out


def main():
    res = {"seed": SEED, "names": NAMES, "grids": {}}
    for gname, grid in grids().items():
        rows = []
        only = [S, PC, APC, OO, W] if gname == "tiny-olmo" else None
        for cls, sub in cases(grid, only):
            r = choose(grid, cls, sub)
            kind = "none" if sub is None else ("fraction" if isinstance(sub, float) else
                                                ("class" if isinstance(sub, str) else "count"))
            r.update({"class": NAMES[cls], "subset": "None" if sub is None else str(sub), "kind": kind,
                      "name": set_name(cls, sub)})
            rows.append(r)
        res["grids"][gname] = {"classes": ["".join(chr(ord("a") + c) for c in row) for row in grid],
                               "cases": rows}
    json.dump(res, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
