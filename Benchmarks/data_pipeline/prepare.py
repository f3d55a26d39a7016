"""Inputs of the data pipeline's benchmark (Scripts/bench-data-pipeline):
  lid    the paragraphs (at least 40 characters) of chapters 11 and later of the Debian
         Reference's nine editions (language identification trains on chapters 1-10), one JSONL
         record each with the edition's language in "lang"; a paragraph of a translation that is
         also in the English edition (left untranslated: commands, file names) is left out
  text   the dirty corpus after our HTML extraction (the output shards of a run with only the html
         stage), copied as shard-K.jsonl, so both sides' rule filters read the same text
  python prepare.py lid EDITIONS OUT.jsonl
  python prepare.py text RUN_OUTPUT_FOLDER OUT_FOLDER
"""
import json
import os
import shutil
import sys


def lid(editions, out):
    def chapters(lang):
        for name in sorted(os.listdir(os.path.join(editions, lang))):
            if name.startswith("ch") and name.endswith(".txt") and int(name[2:4]) > 10:
                yield name, open(os.path.join(editions, lang, name), encoding="utf-8").read()

    english = {line.strip() for _, text in chapters("en") for line in text.split("\n")}
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for lang in sorted(os.listdir(editions)):
            for name, text in chapters(lang):
                for k, line in enumerate(text.split("\n")):
                    if len(line.strip()) >= 40 and (lang == "en" or line.strip() not in english):
                        record = {"id": f"{lang}-{name[:4]}-{k}", "text": line.strip(), "source": "lid", "lang": lang}
                        f.write(json.dumps(record, ensure_ascii=False) + "\n")
                        n += 1
    print(f"{n} paragraphs -> {out}")


def text(run_output, out):
    os.makedirs(out, exist_ok=True)
    for name in sorted(os.listdir(run_output)):
        if name.startswith("shard-") and name.endswith(".jsonl"):
            shutil.copy(os.path.join(run_output, name), os.path.join(out, name))


if __name__ == "__main__":
    {"lid": lid, "text": text}[sys.argv[1]](sys.argv[2], sys.argv[3])
