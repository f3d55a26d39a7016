"""The peers of the data pipeline's benchmark (Scripts/bench-data-pipeline), on the same input:
  rules  datatrove's Gopher repetition, Gopher quality, C4 quality and FineWeb quality filters
         in sequence (a document stops at the first that rejects it), called directly on
         in-memory documents (no reader, writer or executor: the peer's cheapest path), each at
         its defaults (the published thresholds, as ours), but Gopher's alphabetic-words rule off
         on both sides (datatrove's spaCy words count each punctuation mark as a word without
         letters, and reject most of this corpus by it)
  lid    py3langid 0.4.0, its languages restricted to the editions' (Chinese as one "zh")
Prints one JSON object: documents, seconds (the timed loop only), docs_per_s, and the decisions
(kept ids for rules, a language per id for lid) for the agreement check.
  python peers.py rules|lid INPUT.jsonl
"""
import json
import sys
import time


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def rules(records):
    from datatrove.data import Document
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)
    filters = [
        GopherRepetitionFilter(), GopherQualityFilter(max_non_alpha_words_ratio=None),
        C4QualityFilter(), FineWebQualityFilter(),
    ]
    docs = [Document(text=r["text"], id=r["id"]) for r in records]
    kept = []
    start = time.perf_counter()
    for doc in docs:
        for f in filters:
            verdict = f.filter(doc)
            if verdict is False or (isinstance(verdict, tuple) and verdict[0] is False):
                break
        else:
            kept.append(doc.id)
    seconds = time.perf_counter() - start
    return {"documents": len(docs), "seconds": seconds, "docs_per_s": len(docs) / seconds, "kept": kept}


def lid(records):
    import py3langid as langid
    langid.set_languages(["de", "en", "es", "fr", "it", "ja", "pt", "zh"])
    start = time.perf_counter()
    answers = {r["id"]: langid.classify(r["text"])[0] for r in records}
    seconds = time.perf_counter() - start
    return {"documents": len(records), "seconds": seconds, "docs_per_s": len(records) / seconds, "language": answers}


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"rules": rules, "lid": lid}[mode](read(path))))
