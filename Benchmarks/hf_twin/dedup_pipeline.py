#!/usr/bin/env python3
"""The dedup stage as a Python user would build it with datasketch, with the semantics of
Packages/MinHash/DedupPipeline.swift, so that the two can be timed end to end on the same file
and their outputs compared byte for byte (ours in datasketch-compatible mode, --scheme
datasketchAffine32).

Text input (a line equal to --separator ends a document; a trailing CR is ignored), one thread:
  1. every line normalised (lowercase with no context, NFD, White_Space collapsed, Mn and P*
     dropped, Nd -> 0; an ASCII line takes a str.translate fast path), the document's
     normalisation = its non-empty lines joined by spaces; empty documents dropped; exact
     duplicates (equal normalisations) keep the first;
  2. word 5-gram shingle sets, datasketch MinHash (num_perm, seed 1, update_batch), MinHashLSH at
     the threshold (its own (bands, rows)), candidate pairs by querying every document, verified
     by exact Jaccard of the sets, union-find clusters;
  3. boilerplate: a distinct normalised line of >= 10 characters in >= 10 of those clusters (a
     cluster counts once); documents holding it shingled and signed again without it (a document
     of nothing but boilerplate is dropped); clusters again; the first of each cluster kept;
  4. the kept documents written as read, less their boilerplate lines.
Run: python3 dedup_pipeline.py INPUT --separator % --out KEPT [--no-verify] [--no-line-dedup]
     [--report REPORT.json]   (needs datasketch 2.0)
"""
import argparse
import json
import string
import sys
import unicodedata

from datasketch import MinHash, MinHashLSH

WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
DROPPED = {"Mn", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}
ASCII_TABLE = {}
for code in range(128):
    c = chr(code)
    if c in WHITE_SPACE:
        ASCII_TABLE[code] = " "
    elif unicodedata.category(c) in DROPPED:
        ASCII_TABLE[code] = None
    elif c in string.digits:
        ASCII_TABLE[code] = "0"
    else:
        ASCII_TABLE[code] = c.lower()
CLASS = {}


def classify(c):
    cls = CLASS.get(c)
    if cls is None:
        cat = unicodedata.category(c)
        cls = " " if c in WHITE_SPACE else "" if cat in DROPPED else "0" if cat == "Nd" else c
        CLASS[c] = cls
    return cls


def normalize(line):
    if line.isascii():
        return " ".join(w for w in line.translate(ASCII_TABLE).split(" ") if w)
    lowered = "".join(c.lower() for c in line) if "\u03a3" in line else line.lower()  # no final sigma
    text = "".join(classify(c) for c in unicodedata.normalize("NFD", lowered))
    return " ".join(w for w in text.split(" ") if w)


def read_documents(path, separator):
    """Each document as (raw bytes, lines as bytes with their ends); the first separator line."""
    docs, pending, separator_line = [], [], None
    with open(path, "rb") as f:
        for line in f:
            content = line[:-1] if line.endswith(b"\n") else line
            if content.endswith(b"\r"):
                content = content[:-1]
            if content == separator:
                if separator_line is None:
                    separator_line = line
                if pending:
                    docs.append(pending)
                pending = []
            else:
                pending.append(line)
    if pending:
        docs.append(pending)
    return docs, separator_line


def shingles(text, n=5):
    words = text.split(" ")
    if len(words) < n:
        return {text}
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


class UnionFind:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, x, y):
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)

    def clusters(self):
        groups = {}
        for i in range(len(self.parent)):
            groups.setdefault(self.find(i), []).append(i)
        return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("--separator", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--report")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--num-perm", type=int, default=112)
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--no-line-dedup", action="store_true")
    args = p.parse_args()
    line_dedup = not args.no_line_dedup
    docs, separator_line = read_documents(args.input, args.separator.encode())

    # 1. Normalise; empty documents; exact duplicates.
    first, distinct, normalized_lines, wholes, report = {}, [], [], [], {"emptyDocumentIds": [], "exactDuplicateOf": []}
    for i, lines in enumerate(docs):
        norm = [normalize(l.decode("utf-8", "replace")) for l in lines]
        whole = " ".join(n for n in norm if n)
        if not whole:
            report["emptyDocumentIds"].append(i)
            continue
        if whole in first:
            report["exactDuplicateOf"].append([i, first[whole]])
            continue
        first[whole] = i
        distinct.append(i)
        normalized_lines.append(norm)
        wholes.append(whole)
    countable = [{n for n in norm if len(n.encode()) >= 10} if line_dedup else set() for norm in normalized_lines]

    def sign(text):
        s = shingles(text)
        m = MinHash(num_perm=args.num_perm, seed=1)
        m.update_batch([x.encode() for x in s])
        return s, m

    signed = [sign(w) for w in wholes]

    def clusters(live):
        lsh = MinHashLSH(threshold=args.threshold, num_perm=args.num_perm)
        for k, position in enumerate(live):
            lsh.insert(k, signed[position][1])
        uf = UnionFind(len(live))
        for k, position in enumerate(live):
            for other in lsh.query(signed[position][1]):
                if other <= k:
                    continue
                a, b = signed[position][0], signed[live[other]][0]
                if args.no_verify or len(a & b) / len(a | b) >= args.threshold:
                    uf.union(k, other)
        return [[live[k] for k in c] for c in uf.clusters()]

    # 2-3. Boilerplate over clusters, documents holding it signed again, final clusters.
    live = list(range(len(distinct)))
    boilerplate, report["emptiedByLineDedupIds"] = set(), []
    if line_dedup:
        counts, in_cluster = {}, set()
        for c in clusters(live):
            in_cluster.update(c)
            for h in set().union(*(countable[m] for m in c)):
                counts[h] = counts.get(h, 0) + 1
        for position in live:
            if position not in in_cluster:
                for h in countable[position]:
                    counts[h] = counts.get(h, 0) + 1
        boilerplate = {h for h, n in counts.items() if n >= 10}
        emptied = set()
        for position in live:
            if countable[position] & boilerplate:
                text = " ".join(n for n in normalized_lines[position] if n and n not in boilerplate)
                if text:
                    signed[position] = sign(text)
                else:
                    emptied.add(position)
        live = [p for p in live if p not in emptied]
        report["emptiedByLineDedupIds"] = [distinct[p] for p in sorted(emptied)]
    final = clusters(live)
    keep = {distinct[p] for p in live}
    report["nearDuplicateOf"] = []
    for c in final:
        for member in c[1:]:
            keep.discard(distinct[member])
            report["nearDuplicateOf"].append([distinct[member], distinct[c[0]]])
    report["nearDuplicateOf"].sort()

    # 4. Write the kept documents as read, less their boilerplate lines.
    position_of = {d: p for p, d in enumerate(distinct)}
    newline = b"\r\n" if separator_line and separator_line.endswith(b"\r\n") else b"\n"
    with open(args.out, "wb") as out:
        wrote = False
        for i, lines in enumerate(docs):
            if i not in keep:
                continue
            norm = normalized_lines[position_of[i]]
            kept = [l for l, n in zip(lines, norm) if n not in boilerplate or len(n.encode()) < 10]
            data = b"".join(kept)
            if not data.endswith(b"\n"):
                data += newline
            if wrote:
                out.write(separator_line or args.separator.encode() + b"\n")
            out.write(data)
            wrote = True
    report["documentsIn"] = len(docs)
    report["documentsOut"] = len(keep)
    if args.report:
        json.dump(report, open(args.report, "w"))


if __name__ == "__main__":
    sys.exit(main())
