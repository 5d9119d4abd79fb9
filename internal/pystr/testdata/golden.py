#!/usr/bin/env python3
"""Writes golden.json for pystr's tests: CPython's own str.lower, str.capitalize, str.split,
str.strip, str.rstrip and str.isupper (of the first character) on strings with Unicode edge cases, and
bytes.decode("utf-8", "replace") on ill-formed byte strings.

Run from the repository root:  python3 internal/pystr/testdata/golden.py
"""
import json
import os
import sys

CASES = [
    "", " ", "Hello, World!", "iPhone", "new york", "NEW YORK CITY", "İstanbul", "İSTANBUL", "ΟΔΟΣ",
    "ΟΔΟΣ.", "Σ", "ΑΣ ΑΣΑ", "ΑΣ'Β", "ΑΣ' ", "ὈΔΥΣΣΕΎΣ", "ǅemal", "ǆemal", "ǈ", "ßeta", "ﬁne", "ẞtraße",
    "élan vital", "mañana MAÑANA", "Ωmega-3", "日本語 テキスト", "a \x1c\x1d\x1e\x1f", "b\u00a0\u2003\u3000",
    "c\u200b", "d\x85", "\tword\nword\rword\x0bword\x0cword ", "ǰet", "ŉ", "Ⅻ ⅻ", "ⓐⒶ", "\u2160x",
]


# Byte strings for bytes.decode("utf-8", "replace"), as hex.
BYTES = [
    "", "61", "80", "8080", "808061", "c3", "c3a9", "c361", "e282", "e28261", "e282ac", "e0", "e080",
    "e0a080", "e09f80", "ed9f80", "eda080", "f0", "f09f", "f09f98", "f09f9880", "f08f9880", "f48f", "f490",
    "f5", "ff", "fe", "c0af", "c1bf", "e2ffac", "6162e2", "e282e282ac", "f09f98e282ac", "f4908080", "efbfbd",
]


def main():
    golden = []
    for s in CASES:
        golden.append({
            "text": s, "lower": s.lower(), "capitalize": s.capitalize(), "split": s.split(),
            "strip": s.strip(), "rstrip": s.rstrip(), "starts_upper": bool(s) and s[0].isupper(),
        })
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w", encoding="utf8") as f:
        decode = [{"hex": h, "text": bytes.fromhex(h).decode("utf-8", "replace")} for h in BYTES]
        json.dump({"python": sys.version.split()[0], "cases": golden, "decode": decode}, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
