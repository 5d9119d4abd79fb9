#!/usr/bin/env python3
"""Writes judge_golden.json for knowns' tests (standard-library Python only).

A restatement, written for this test, of the decision the reference's wiki/knowns.py takes for one
fact (paper-spec §5.1), round after round of generated text, and of how it then cuts the known fact's
prompt. Two switches undo the two slips wcos does not reproduce: the words from the capitalised one on
were taken as ' '.join(words)[i:] (a character index), and the prompt was cut at the attribute's
first occurrence anywhere in the text, the original prompt included. For random facts and texts the
file holds the verdict and the cut with the slips and without them; wcos must equal the latter.

The texts are random: filler words, other capitalised words, the attribute as written, lower-cased,
capitalised or cut after its first word, punctuation, and an end of text; each case splits its text
into rounds at random characters (a round of the reference ends after 10 tokens, which need not end a
word).

Run from the repository root:  python3 experiments/knowns/testdata/judge_golden.py
"""
import json
import os
import random
import re

EOS = "<|endoftext|>"
SUBJECTS = ["Toronto Blue Jays", "Paris", "the Seine", "iPhone", "Mount Everest", "Rio de Janeiro", "Ⅻ Corps"]
TEMPLATES = ["{} is located in", "The capital of {} is", "{} was founded in", "{} is owned by"]
ATTRIBUTES = ["Paris", "Toronto", "New York", "new york", "United Kingdom", "Rio de Janeiro", "Apple",
              "iron", "Ⅻ", "Ontario", "the Netherlands", "Blue"]
FILLERS = ["the", "a", "city", "of", "near", "and", "river", "which", "is", "in", "known", "for", "its",
           "ǅungla", "ⓐbc", "1984"]
OTHERS = ["The", "It", "London", "United", "New", "Apple", "Ontario", "Ⅻ", "NEW", "Iron"]
PUNCT = [",", ".", ";", ""]


def build_prompt(template, subject):
    prompt = template.replace("{}", subject).rstrip()
    if prompt.startswith(subject):
        prompt = prompt[0].upper() + prompt[1:]
    return " " + prompt


def judge(prompt, attribute, rounds, fix_slice):
    """Follows one fact through rounds of (whole text, EOS seen). Returns the verdict and the text."""
    attr = attribute.lower()
    prompt_len = len(prompt)
    text = prompt
    start = len(text)
    upper_found = possible = False
    verdict = "undecided"
    for whole, eos in rounds:
        if not possible:
            start = len(text)
        text = whole
        answer, fresh = text[prompt_len:], text[start:]
        words = fresh.split()
        for i, w in enumerate(words):
            if not w[0].isupper():
                continue
            upper_found = True
            if attr in (answer.split(w)[0] + w).lower():
                verdict = "known"
            elif attr.startswith(w.lower()):
                rest = " ".join(words[i:]) if fix_slice else " ".join(words)[i:]
                if len(rest) >= len(attribute) or eos:
                    verdict = "known" if rest.lower().startswith(attr) else "unknown"
                else:
                    possible = True
            else:
                verdict = "unknown"
            break
        if not upper_found and eos:
            verdict = "known" if attr in answer.lower() else "unknown"
        if verdict != "undecided":
            break
    return verdict, text


def cut(prompt, attribute, text, fix_cut):
    """The known fact's prompt and prediction: the text split before the attribute as written,
    lower-cased or capitalised (the first of these found). The reference asserts that one is found;
    when only a match ignoring case is left (NEW YORK for New York), wcos cuts there."""
    off = len(prompt) if fix_cut else 0
    where = text[off:]
    for d in (attribute, attribute.lower(), attribute.capitalize()):
        if d in where:
            at = off + where.index(d)
            return text[:at], text[at:]
    if not fix_cut:
        return None, None
    m = re.search(re.escape(attribute), where, re.IGNORECASE)
    if m is None:
        return text[:off], where
    return text[:off + m.start()], text[off + m.start():]


def random_text(r, attribute):
    words = []
    for _ in range(r.randint(0, 14)):
        x = r.random()
        if x < 0.55:
            w = r.choice(FILLERS)
        elif x < 0.7:
            w = r.choice(OTHERS)
        elif x < 0.8:
            w = r.choice([attribute, attribute.lower(), attribute.capitalize(), attribute.upper()])
        elif x < 0.9:
            w = attribute.split()[0]
        else:
            w = r.choice(ATTRIBUTES)
        words.append(w + r.choice(PUNCT))
    text = "".join(" " + w for w in words)
    if r.random() < 0.4:
        text += EOS
    return text


def main():
    r = random.Random(2512800)
    cases = []
    for _ in range(1500):
        subject, attribute = r.choice(SUBJECTS), r.choice(ATTRIBUTES)
        prompt = build_prompt(r.choice(TEMPLATES), subject)
        gen = random_text(r, attribute)
        cuts = sorted(r.sample(range(1, len(gen)), min(len(gen) - 1, r.randint(0, 4)))) if len(gen) > 1 else []
        pieces = [gen[a:b] for a, b in zip([0] + cuts, cuts + [len(gen)])] if gen else [""]
        rounds, text = [], prompt
        for p in pieces:
            text += p
            rounds.append((text, EOS in text))
        case = {"prompt": prompt, "attribute": attribute, "rounds": pieces}
        for name, fix in (("reference", False), ("fixed", True)):
            verdict, whole = judge(prompt, attribute, rounds, fix_slice=fix)
            case[name] = {"verdict": verdict}
            if verdict == "known":
                p, pred = cut(prompt, attribute, whole, fix_cut=fix)
                case[name].update({"prompt": p, "prediction": pred})
        cases.append(case)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "judge_golden.json")
    with open(path, "w", encoding="utf8") as f:
        json.dump({"eos": EOS, "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    differ = sum(c["reference"] != c["fixed"] for c in cases)
    print(f"{len(cases)} cases, {sum(c['fixed']['verdict'] == 'known' for c in cases)} known, {differ} where the reference differs")


if __name__ == "__main__":
    main()
