#!/usr/bin/env python3
"""Fixture for PostTraining's VADER: the vaderSentiment 3.3.2 package's scores of 500 sentences
from the Debian fortunes (modern English quotations, the preference world's text) and of hand-made
sentences that exercise each rule (negation, "no", boosters and dampeners, ALL CAPS, "but",
"least", "never so", "without doubt", special idioms, "kind of", emoticons, emoji, ! and ?).
Run: python3 Scripts/reference/vader_fixture.py   (needs vaderSentiment==3.3.2 and Data/fetch)
Writes Tests/PostTrainingTests/Fixtures/vader_reference.json.
"""
import glob
import json
import os
import random
import re

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")
HAND = [
    "VADER is smart, handsome, and funny.", "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.", "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!", "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.", "The book was good.", "At least it isn't a horrible book.",
    "The book was only kind of good.", "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!", "Today only kinda sux! But I'll get by, lol", "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as such as 💘 and 💋 and 😁", "Not bad at all", "no problem at all",
    "There is no love and no hope.", "no good or bad", "It was the least bad option.", "It was at least good.",
    "It was the very least helpful.", "I have never been so happy.", "This is never this good.",
    "Without doubt it is great.", "without a doubt, wonderful", "That movie was the bomb.", "yeah right, great idea",
    "He was a bad ass.", "This cake is to die for.", "The kiss of death came early.", "What a beating heart of a town.",
    "I sort of like it.", "It is kind of nice but really awful.", "Good?? Great???? Terrible?", "great!!!!!!",
    "I am so so happy.", "I am SO happy.", "HAPPY", "happy sad", "", "   ", "...", ":( :-( :'(",
    "It's not that I don't like you, it's that I love you.", "Hardly good, barely acceptable.",
    "The food was extremely good but the service was terribly slow.", "but", "but good", "good but",
    "good good but good good", "I didn't hate it.", "It isn't horrible.", "nothing good ever happens",
    "seldom happy, rarely sad", "despite the rain it was lovely", "I cannot stand it", "Uh-uh, not nice.",
    "😀😀😀 joy", "love❤️love", "The news is good 👍, the weather 😞.", "Ünïcödé fun and NAÏVE joy",
]


def sentences(rng, count):
    pool = []
    for path in sorted(glob.glob(os.path.join(ROOT, "Data/corpora/english/fortunes/*.txt"))):
        for quote in open(path, encoding="utf-8").read().split("\n%\n"):
            text = " ".join(quote.split())
            for s in re.split(r"(?<=[.!?])\s+", text):
                if 3 <= len(s.split()) <= 40 and not s.startswith("--"):
                    pool.append(s)
    rng.shuffle(pool)
    return pool[:count]


def main():
    analyzer = SentimentIntensityAnalyzer()
    texts = HAND + sentences(random.Random(2014), 500)
    cases = []
    for text in texts:
        s = analyzer.polarity_scores(text)
        cases.append({"text": text, "compound": s["compound"], "pos": s["pos"], "neg": s["neg"], "neu": s["neu"]})
    out = os.path.join(ROOT, "Tests/PostTrainingTests/Fixtures/vader_reference.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": "vaderSentiment 3.3.2 (Scripts/reference/vader_fixture.py)", "cases": cases}, f,
                  ensure_ascii=False, indent=0)
        f.write("\n")
    nonzero = sum(1 for c in cases if c["compound"] != 0)
    print(f"{out}: {len(cases)} texts ({len(HAND)} hand-made), {nonzero} with a non-zero compound")


if __name__ == "__main__":
    main()
