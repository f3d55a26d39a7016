#!/usr/bin/env python3
"""A dedup benchmark corpus of N documents, deterministic, from Data/corpora's English texts
(Shakespeare's paragraphs and the Debian fortunes), in the text format both dedup commands read
(a line "%" between documents). Of the documents, by a seeded draw:
  45 % new texts: 2 to 6 lines drawn from random paragraphs (most of the corpus is unique);
  15 % the source paragraphs themselves, in order;
  15 % near-duplicates of an earlier document: about one word in 12 replaced (Jaccard of word
       5-grams around 0.5 to 0.9, so some are above the 0.8 threshold and some below);
   8 % exact duplicates of an earlier document after normalisation (case or punctuation changed);
  15 % an earlier document with one of 30 footer lines appended (boilerplate);
   2 % empty or punctuation-only documents.
Run: python3 make_dedup_corpus.py --documents 220000 --out corpus.txt
"""
import argparse
import glob
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")


def sources():
    paragraphs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "Data/corpora/english/shakespeare/*.txt"))):
        paragraphs += open(path, encoding="utf-8").read().split("\n\n")
    for path in sorted(glob.glob(os.path.join(ROOT, "Data/corpora/english/fortunes/*"))):
        paragraphs += open(path, encoding="utf-8", errors="replace").read().split("\n%\n")
    seen, out = set(), []
    for p in paragraphs:
        p = "\n".join(line for line in p.strip("\n").split("\n") if line.strip() != "%")
        if len(p.split()) >= 8 and p not in seen:
            seen.add(p)
            out.append(p)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = sources()
    lines = [line for p in base for line in p.split("\n") if len(line.split()) >= 3]
    footers = [f"Read more plays and sonnets at example{k}.org, updated every week for our readers" for k in range(30)]
    docs, next_base = [], 0
    for _ in range(args.documents):
        r = rng.random()
        if r < 0.45 or not docs:
            doc = "\n".join(rng.choice(lines) for _ in range(rng.randint(2, 6)))
        elif r < 0.60:
            doc = base[next_base % len(base)]
            next_base += 1
        elif r < 0.75:
            words = rng.choice(docs).split(" ")
            for k in range(len(words)):
                if rng.random() < 1 / 12:
                    words[k] = rng.choice(["thee", "thou", "hath", "doth", "ere", "anon", "prithee", "forsooth"])
            doc = " ".join(words)
        elif r < 0.83:
            doc = rng.choice(docs)
            doc = doc.upper() if rng.random() < 0.5 else doc.replace(",", "").replace(".", "")
        elif r < 0.98:
            doc = rng.choice(docs) + "\n" + rng.choice(footers)
        else:
            doc = rng.choice(["", "...", "!!! ???", "-- --"])
        docs.append(doc)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n%\n".join(docs) + "\n")
    print(f"{args.out}: {len(docs)} documents from {len(base)} source paragraphs, {os.path.getsize(args.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
