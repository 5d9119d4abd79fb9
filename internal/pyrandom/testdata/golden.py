#!/usr/bin/env python3
"""Writes golden.json for package pyrandom from CPython's own random module (standard library only).

Usage (from the repository root):
    python3 internal/pyrandom/testdata/golden.py > internal/pyrandom/testdata/golden.json
"""
import json
import math
import random
import sys

SEEDS = [2512800, 0, 1, 42, 5489, 2**32 - 1, 2**32, 2**32 + 5, 2**63 - 1, -7, -2512800]


def setsize(k):
    s = 21
    if k > 5:
        s += 4 ** math.ceil(math.log(k * 3, 4))
    return s


def sample_cases():
    cases = set()
    for k in list(range(0, 12)) + [15, 16, 21, 22, 43, 44, 100, 171, 243, 683]:
        s = setsize(k)
        for n in (k, k + 1, s - 1, s, s + 1, s + 2, 2 * s, 3 * k + 7):
            if n >= k and n > 0:
                cases.add((n, k))
    cases |= {(688, 1), (688, 3), (687, 1), (5504, 24), (11008, 243), (11008, 526), (2000, 999),
              (2000, 1000), (1, 1), (2, 2), (3, 0), (700, 700)}
    return sorted(cases)


def main():
    out = {"python": sys.version.split()[0], "seeds": [], "samples": [], "sequential": {}}
    for seed in SEEDS:
        r = random.Random(seed)
        u32 = [r.getrandbits(32) for _ in range(1300 if seed == 2512800 else 630)]  # twists at 0, 624, 1248
        r.seed(seed)
        bits = []
        for k in [0, 1, 2, 5, 7, 8, 13, 31, 32, 33, 40, 53, 63, 64, 1, 32, 64, 17]:
            bits.append({"k": k, "v": r.getrandbits(k)})
        r.seed(seed)
        below = []
        for nn in [1, 2, 3, 5, 7, 8, 9, 100, 688, 1000, 5504, 11008, 2**31 - 1, 2**31, 2**31 + 1,
                   2**32 - 1, 2**32, 2**40 + 3, 2**62 + 1]:
            below.append({"n": nn, "v": r._randbelow(nn)})
        r.seed(seed)
        floats = [r.random() for _ in range(20)]
        out["seeds"].append({"seed": seed, "uint32": u32, "getrandbits": bits, "randbelow": below,
                             "random": [repr(f) for f in floats]})
    cases = sample_cases()
    for n, k in cases:
        r = random.Random(2512800)
        out["samples"].append({"seed": 2512800, "n": n, "k": k, "setsize": setsize(k),
                               "pool": n <= setsize(k), "indices": r.sample(range(n), k),
                               "next": r.getrandbits(32)})
    for n, k in [(50, 7), (30, 30), (1000, 10)]:
        r = random.Random(12345)
        out["samples"].append({"seed": 12345, "n": n, "k": k, "setsize": setsize(k),
                               "pool": n <= setsize(k), "indices": r.sample(range(n), k),
                               "next": r.getrandbits(32)})
    # One generator through every case in turn: checks the state carried between calls.
    r = random.Random(2512800)
    seq = [r.sample(range(n), k) for n, k in cases]
    out["sequential"] = {"seed": 2512800, "cases": [[n, k] for n, k in cases], "indices": seq,
                         "next": r.getrandbits(32)}
    out["setsize"] = [[k, setsize(k)] for k in range(0, 5000)]
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
