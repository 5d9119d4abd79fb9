#!/usr/bin/env python3
"""Writes paragraphs.txt, titles.txt and golden.json for wiki's tests (standard-library Python only).

The corpus is cut from the project's evaluation text (data/eval, four sentences a paragraph) plus
lines that test the edges: Unicode case mappings, universal newlines, trailing white space, blank
lines, a paragraph without subject words. golden.json restates, independently of the Go code, what
the reference's wiki_retrieve.py computes with bm25s (method "lucene", k1 1.5, b 0.75, float32
scores, the vocabulary learnt from the subjects): each subject's query words, its top-k paragraphs
with their float32 scores, the paragraphs kept by the subject filter, and wiki.csv's text. Python's
own re, str.lower, str.rstrip, str.capitalize and text-mode newlines give the string semantics
(internal/pystr checks the string methods one by one).

Run from the repository root:  python3 wiki/testdata/golden.py
"""
import hashlib
import json
import math
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
K = 10
K1, B = 1.5, 0.75
STOP = set("a an and are as at be but by for if in into is it no not of on or such that the their "
           "then there these they this to was will with".split())
TOKEN = re.compile(r"(?u)\b\w\w+\b")

EDGE_PARAGRAPHS = [
    ("İstanbul is the largest city of Turkey; İSTANBUL.", "İstanbul. Overview"),
    ("ΟΔΟΣ and ΟΔΟΣΣ and Σ alone, ὁδός", "Greek"),
    ("naïve café_au_lait 1984 x y z 3.14 don't ﬁne ½ Ⅻ", "Edges. Words"),
    ("Bora Bora bora BORA is an island of French Polynesia.   \t", "Bora Bora"),
    ("Nothing here matches anything at all, zzz qqq.", "Empty"),
    ("A paragraph about nothing in particular.", "Moby Dick. In the title only"),
    ("The iphone and the iPhone and the IPHONE.", "Phones"),
    ("To be or not to be.", "Hamlet"),
]
EXTRA_SUBJECTS = ["United States", "Congress", "Moby Dick", "Ahab", "Nantucket", "Pequod", "Queequeg",
                  "Starbuck", "Constitution", "İstanbul", "ΟΔΟΣ", "Bora Bora", "iPhone", "To Be",
                  "café_au_lait", "Great Britain", "Mexico", "zzz", "naïve"]
WORD_CASES = ["Hello, World!", "a b cd", "x_y 12 3", "İstanbul", "ΟΔΟΣ ΟΔΟΣΣ Σ", "naïve ﬁne ½ Ⅻ",
              "don't 3.14", "ǅemal", "ǈ", "ẞtraße", "", "   ", "mañana MAÑANA", "Ωmega-3", "日本語 テキスト"]


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def words(text):
    return TOKEN.findall(text.lower())


def nonblank_lines(path):
    with open(path, "r", encoding="utf8") as f:
        return [l.rstrip() for l in f if l.rstrip()]


def write_corpus():
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "data/eval/sotu-moby-valid.jsonl"), encoding="utf8")]
    paras, titles = [], []
    for r in rows:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", r["text"].replace("\n", " ")) if s]
        for j in range(0, min(len(sentences), 48), 4):
            paras.append(" ".join(sentences[j:j + 4]))
            titles.append(f"{r['source']}. Part {j // 4}")
    for i, (p, t) in enumerate(EDGE_PARAGRAPHS):
        at = 7 + 13 * i
        paras.insert(at, p)
        titles.insert(at, t)
    # Line ends: \n mostly, some \r\n and \r; blank lines (also white space only) in both files at
    # different places, which do not count.
    ends = ["\n", "\r\n", "\r"]
    with open(os.path.join(HERE, "paragraphs.txt"), "w", encoding="utf8", newline="") as f:
        for i, p in enumerate(paras):
            f.write(p + (" \x1c" if i % 17 == 0 else "") + ends[i % 7 % 3 if i % 7 < 3 else 0])
            if i % 11 == 0:
                f.write("  \t\n")
    with open(os.path.join(HERE, "titles.txt"), "w", encoding="utf8", newline="") as f:
        for i, t in enumerate(titles):
            f.write(t + ends[i % 5 % 3 if i % 5 < 3 else 0])
            if i % 13 == 0:
                f.write("\n")


def main():
    write_corpus()
    paras = nonblank_lines(os.path.join(HERE, "paragraphs.txt"))
    titles = nonblank_lines(os.path.join(HERE, "titles.txt"))
    assert len(paras) == len(titles)
    facts = [json.loads(l) for l in open(os.path.join(ROOT, "data/facts/facts.jsonl"), encoding="utf8")]
    subjects = []
    for s in [f["subject"] for f in facts] + EXTRA_SUBJECTS:
        if s not in subjects:
            subjects.append(s)

    vocab = {"": 0}
    for s in subjects:
        for w in words(s):
            if w not in STOP and w not in vocab:
                vocab[w] = len(vocab)
    docs = []
    for p in paras:
        ids = [vocab[w] for w in words(p) if w in vocab]
        docs.append(ids or [0])
    n = len(docs)
    avg = sum(len(d) for d in docs) / n
    df = {}
    for d in docs:
        for t in set(d):
            df[t] = df.get(t, 0) + 1
    idf = {t: f32(math.log(1 + (n - c + 0.5) / (c + 0.5))) for t, c in df.items()}
    postings = {}
    for i, d in enumerate(docs):
        for t in set(d):
            tf = d.count(t)
            postings.setdefault(t, []).append((i, f32(idf[t] * (tf / (K1 * ((1 - B) + B * len(d) / avg) + tf)))))

    names = {i: w for w, i in vocab.items()}
    results = []
    for s in subjects:
        q = [vocab[w] for w in words(s) if w in vocab and w not in STOP] or [0]
        acc = {}
        for t in q:
            for d, sc in postings.get(t, []):
                acc[d] = f32(acc.get(d, 0.0) + sc)
        hits = sorted(acc.items(), key=lambda x: (-x[1], x[0]))[:K]
        d = 0
        while len(hits) < min(K, n):
            if d not in acc:
                hits.append((d, 0.0))
            d += 1
        cap = s.capitalize()
        kept, text = [], ""
        for d, _ in hits:
            check = titles[d] + ". " + paras[d]
            if s in check or cap in check:
                kept.append(d)
                text = text + " " + paras[d]
        results.append({"subject": s, "query": [names[t] for t in q], "hits": [[d, sc] for d, sc in hits],
                        "kept": kept, "paragraphs_sha256": hashlib.sha256(text.encode()).hexdigest()})

    golden = {
        "k": K, "paragraphs": n, "avg_length": avg, "terms": len(vocab),
        "empty_paragraphs": sum(1 for d in docs if d == [0]), "subjects": subjects, "results": results,
        "words": [{"text": t, "words": words(t)} for t in WORD_CASES],
    }
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{n} paragraphs, {len(vocab)} terms, {len(subjects)} subjects, "
          f"{sum(1 for r in results if r['kept'])} with kept paragraphs")


if __name__ == "__main__":
    main()
