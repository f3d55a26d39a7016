#!/usr/bin/env python3
"""Fixture for DataPipeline's C4 and FineWeb rules: datatrove 0.10.1's C4QualityFilter and
FineWebQualityFilter, each at its defaults, on hand-made pages that sit on either side of each
threshold (sentences per page, words per line, terminal punctuation, citations, javascript and
policy lines, lorem ipsum and curly braces on kept and dropped lines, over-long words, short
lines of 30 and 31 characters, duplicated characters near 1 %, newlines per word near 0.3,
trailing spaces, CRLF line ends, a sentence terminal of another script).
Run: .venv-data-bench/bin/python Scripts/reference/quality_rules_fixture.py
     (Scripts/bench-data-pipeline makes that environment: datatrove[processing]==0.10.1, spaCy)
Writes Tests/DataPipelineTests/Fixtures/quality_rules.json: [{"name", "text", "c4": {"kept",
"reason", "text"}, "fineweb": {"kept", "reason"}}]; "text" under "c4" is the page after C4's line
filter when it is kept.
"""
import json
import os

from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")

PROSE = [
    "The river rose through the night as the rain kept falling on the valley.",
    "By morning the old bridge near the mill was under a foot of brown water.",
    "Farmers moved their cattle to the higher fields before the roads closed.",
    "The school stayed shut, and most shops opened late or not at all.",
    "Volunteers filled sandbags at the church hall with help from the firemen.",
    "Radio reports warned that the dam upstream was holding but being watched.",
    "In the afternoon the sun came out and the water began to go down slowly.",
    "Engineers will inspect the bridge next week to decide whether it is safe.",
]


def lines(*xs):
    return "\n".join(xs)


def unpunctuated(n):
    return [f"a line of the page without an end mark, number {i}" for i in range(n)]


PAGES = {
    "clean": lines(*PROSE),
    "four sentences": lines(*PROSE[:4]),
    "five sentences": lines(*PROSE[:5]),
    "five sentences on two lines": lines(" ".join(PROSE[:3]), " ".join(PROSE[3:5])),
    "decimals do not end sentences": lines("The price rose 3.5 percent to 12.75 euros in May.", *PROSE[:3]),
    "two-word lines dropped": lines(*PROSE[:5], "Read more.", "Share this."),
    "three-word line kept": lines(*PROSE[:4], "It was cold."),
    "ellipsis lines dropped": lines(*PROSE[:4], "And the story went on and on..."),
    "quote ends kept": lines(*PROSE[:3], 'She said "the water is going down."', "He answered 'not fast enough'"),
    "no terminal dropped": lines(*PROSE[:5], "Menu and navigation for the whole site"),
    "citations stripped": lines("The dam was built in 1921.[3]", "It holds four million cubic metres[12].",
                                "Its wall is forty metres high.[citation needed]", *PROSE[:3],
                                "History [edit] of the valley is long."),
    "javascript dropped": lines(*PROSE[:5], "Please enable JavaScript to view the comments below."),
    "policy dropped": lines(*PROSE[:5], "This site uses cookies to improve your experience.",
                            "Read our privacy policy before you sign up."),
    "javascript leaves four": lines(*PROSE[:4], "Please enable JavaScript to view the comments below."),
    "lorem ipsum on a kept line": lines(*PROSE[:5], "Lorem ipsum dolor sit amet, it said."),
    "lorem ipsum on a dropped line": lines(*PROSE[:5], "lorem ipsum dolor sit amet"),
    "brace on a kept line": lines(*PROSE[:5], "The code {x} is shown here in full."),
    "brace on a dropped line": lines(*PROSE[:5], "function f() { return 1 }"),
    "over-long word": lines(*PROSE[:5], "The word " + "a" * 1001 + " is long."),
    "long word at the limit": lines(*PROSE[:4], "The word " + "a" * 1000 + " is long."),
    "indented lines": lines(*["   " + p + "  " for p in PROSE[:5]]),
    "crlf": "\r\n".join(PROSE + ["The town council will meet on Monday to plan the repairs."]),
    "blank lines between": "\n\n".join(PROSE[:5]),
    "empty": "",
    # FineWeb: terminal punctuation share (12 %), on lines long enough not to be short.
    "one in nine punctuated": lines(PROSE[0], *unpunctuated(8)),
    "one in eight punctuated": lines(PROSE[0], *unpunctuated(7)),
    "semicolons are not terminal": lines(*[p[:-1] + ";" for p in PROSE]),
    "trailing spaces hide the stop": lines(*[p + "  " for p in PROSE]),
    "another script's stop": lines(*["这是一个很长的句子，它讲述了山谷里的河水在夜里上涨的故事。" * 2 for _ in range(1)],
                                   *unpunctuated(7)),
    # FineWeb: short lines (<= 30 characters) over 67 %.
    "seven of ten lines of 30": lines(*PROSE[:3], *[f"Line {i} is exactly thirty chr." for i in range(7)]),
    "seven of ten lines of 31": lines(*PROSE[:3], *[f"Line {i} is exactly thirty-one c." for i in range(7)]),
    "two of three short": lines(PROSE[0], "Short line.", "Another one."),
    # FineWeb: characters of repeated lines over 1 % of the text.
    "a repeated short line": lines(*PROSE, "Ok.", "Ok."),
    "a repeated line over one percent": lines(*PROSE[:2], "Ok.", "Ok."),
    "one repeated long line": lines(*PROSE, PROSE[0]),
    "repeat under one percent": lines(*[f"{p} Line {i}." for i, p in enumerate(PROSE * 12)], "Ok.", "Ok."),
    # FineWeb: newlines per word over 0.3.
    "list of two-word items": lines(*[f"Supercalifragilisticexpialidocious antidisestablishmentarianism{i}."
                                      for i in range(10)]),
    "list with blank lines": "\n\n".join(f"Supercalifragilisticexpialidocious antidisestablishmentarianism{i}."
                                         for i in range(10)),
}

C4_REASONS = {"too_few_sentences", "lorem_ipsum", "curly_bracket"}


def verdict(f, text):
    doc = Document(text=text, id="x")
    v = f.filter(doc)
    kept = v is True or (isinstance(v, tuple) and v[0] is True)
    reason = None if kept else (v[1] if isinstance(v, tuple) else "rejected")
    return kept, reason, doc.text


def main():
    c4, fineweb = C4QualityFilter(), FineWebQualityFilter()
    out = []
    for name, text in PAGES.items():
        c4_kept, c4_reason, c4_text = verdict(c4, text)
        assert c4_reason is None or c4_reason in C4_REASONS, c4_reason
        fw_kept, fw_reason, _ = verdict(fineweb, text)
        out.append({"name": name, "text": text,
                    "c4": {"kept": c4_kept, "reason": c4_reason, "text": c4_text if c4_kept else None},
                    "fineweb": {"kept": fw_kept, "reason": fw_reason}})
    path = os.path.join(ROOT, "Tests/DataPipelineTests/Fixtures/quality_rules.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for r in out:
        print(f'{r["name"]:35} c4 {r["c4"]["reason"] or "kept":20} fineweb {r["fineweb"]["reason"] or "kept"}')


if __name__ == "__main__":
    main()
