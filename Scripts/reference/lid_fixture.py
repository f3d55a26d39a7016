#!/usr/bin/env python3
"""Fixture for DataPipeline's language identification: paragraphs of the Debian Reference's nine
editions (en, de, es, fr, it, ja, pt, zh-cn, zh-tw; Data/fetch), split into training and held-out
paragraphs by chapter (chapters 1-10 train, 11-12 held out, so no held-out paragraph is a
training one), with py3langid 0.4.0's answer on every held-out paragraph.
A paragraph is a line of at least 40 characters that holds a letter and no URL. The translated
editions keep some passages in English (untranslated text, often re-wrapped): a paragraph of
another edition is left out when a third or more of its word 3-grams occur in the English
edition; and lines that are mostly ASCII in the Japanese and Chinese editions are left out
(commands and untranslated names).
Run: python3 Scripts/reference/lid_fixture.py   (needs py3langid==0.4.0 and Data/fetch)
Writes Tests/DataPipelineTests/Fixtures/lid.json: {"train": {lang: [text]}, "heldout": [{"lang",
"text", "py3langid"}]}, py3langid restricted to the nine languages' codes (en, de, es, fr, it, ja,
pt, zh: it has one Chinese, so zh-cn and zh-tw are both "zh" there).
"""
import json
import os
import random

import py3langid

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
EDITIONS = ["en", "de", "es", "fr", "it", "ja", "pt", "zh-cn", "zh-tw"]
TRAIN_PER_LANGUAGE, HELDOUT_PER_LANGUAGE = 250, 60


def paragraphs(lang, chapters):
    out = []
    for n in chapters:
        path = os.path.join(ROOT, f"Data/corpora/aligned/debian-reference/{lang}/ch{n:02d}.txt")
        if os.path.exists(path):
            for line in open(path, encoding="utf-8"):
                line = line.strip()
                if len(line) >= 40 and any(c.isalpha() for c in line) and "://" not in line:
                    out.append(line)
    return out


def trigrams(text):
    words = text.lower().split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def main():
    english = set().union(*(trigrams(p) for p in paragraphs("en", range(1, 13))))
    rng = random.Random(0)
    py3langid.langid.set_languages(["en", "de", "es", "fr", "it", "ja", "pt", "zh"])
    train, heldout = {}, []
    for lang in EDITIONS:
        def keep(p):
            grams = trigrams(p)
            if lang != "en" and grams and len(grams & english) >= len(grams) / 3:
                return False
            if lang in ("ja", "zh-cn", "zh-tw") and sum(c.isascii() for c in p) > len(p) / 2:
                return False
            return True
        tr = [p for p in paragraphs(lang, range(1, 11)) if keep(p)]
        ho = [p for p in paragraphs(lang, range(11, 13)) if keep(p)]
        rng.shuffle(tr)
        rng.shuffle(ho)
        train[lang] = tr[:TRAIN_PER_LANGUAGE]
        for p in ho[:HELDOUT_PER_LANGUAGE]:
            heldout.append({"lang": lang, "text": p, "py3langid": py3langid.langid.classify(p)[0]})
    out = os.path.join(ROOT, "Tests/DataPipelineTests/Fixtures/lid.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"train": train, "heldout": heldout}, f, ensure_ascii=False, indent=0)
    right = sum(h["py3langid"] == h["lang"].split("-")[0] for h in heldout)
    print(f"wrote {out}: {sum(map(len, train.values()))} training and {len(heldout)} held-out paragraphs; "
          f"py3langid {right}/{len(heldout)} right")


if __name__ == "__main__":
    main()
