#!/usr/bin/env python3
"""Reference fixtures for the tokenizer package.

- pretokenize: how Python's `regex` module (the semantics tiktoken and HF follow) splits
  hand-picked strings and 600 seeded random strings with the GPT-2 and GPT-4 patterns,
  as byte offsets of each chunk in the UTF-8 text.
- unicode: the code-point ranges `regex` treats as \\p{L} and \\p{N}, to check the scanner's
  classification over all of Unicode.
- hf_bpe: merges and ids from HF `tokenizers` BpeTrainer (ByteLevel, GPT-2 regex, no prefix
  space) on Data/sample text, for the HF-parity mode of the trainer.
- hf_special: ids HF gives special-token strings inside text, by default (matched) and with
  encode_special_tokens = True (not matched).
Run: python3 Scripts/reference/tokenizer_fixtures.py  (needs regex and tokenizers; tests never do)
Writes: Tests/TokenizerTests/Fixtures/tokenizer_reference.json
"""
import json
import pathlib
import random

import regex
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = pathlib.Path(__file__).resolve().parents[2]
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

hand_picked = [
    "Hello world", "Hello  world", "   leading and trailing   ", "tabs\tand\nnewlines\r\n\r\nhere",
    "I'm you're we've he'll she'd it's don't", "I'M YOU'RE WE'VE HE'LL SHE'D IT'S DON'T",
    "'s'S'ſ 'tis 'twas ''quoted''", "digits 1 22 333 4444 55555 1234567890", "x=3.14159, y=-2e10!",
    "naïve café résumé", "日本語のテキストです。", "中文没有空格，用字符分词。", "mixed 中文 and English 123",
    "emoji 🙂🚀 and 👩\u200d💻 zwj", "combining e\u0301 and a\u0308", "Ωμέγα ελληνικά", "русский текст",
    "عربي مع أرقام ٣٤٥", "Devanagari हिन्दी ३४५", "nbsp\u00a0here and\u3000ideographic space",
    "line\u2028separator\u2029para", "\n\n\nword", "word\n\n\n", "  \n  \n  x", "!!!???...", " !!! ",
    "a\r\rb", "end with space ", "end with newline\n", "", " ", "\t", "''", "'", "'ll", "x'll've",
    "ALLCAPS and CamelCase and snake_case", "<|endoftext|> special-looking text <think>",
    "Ⅻ roman numeral ½ fraction ² superscript", "\x00\x01 controls \x7f", "ǅ titlecase ʰ modifier",
]

alphabet = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" " * 12) + list("\t\n\r\n") + list("'''.,;:!?-_()[]{}\"/\\@#$%^&*+=<>|~`")
    + list("éüßøñçÅ中文字日本語한국어ΩΣλжщ١٢٣४५½²Ⅻ🙂🚀\u0301\u0308\u00a0\u3000\u2028\u200dſ")
)
rng = random.Random(20261129)
random_strings = []
for _ in range(600):
    n = rng.randint(1, 40)
    random_strings.append("".join(rng.choice(alphabet) for _ in range(n)))


def split(pattern, text):
    data = text.encode("utf-8")
    out, pos = [], 0
    for m in regex.finditer(pattern, text):
        start = len(text[: m.start()].encode("utf-8"))
        end = len(text[: m.end()].encode("utf-8"))
        assert start == pos, (text, pattern)
        out.append([start, end])
        pos = end
    assert pos == len(data)
    return out


pretokenize = [
    {"text": t, "gpt2": split(GPT2, t), "gpt4": split(GPT4, t)} for t in hand_picked + random_strings
]


def ranges(test):
    out, start = [], None
    for cp in range(0x110000 + 1):
        inside = cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF and test(chr(cp))
        if inside and start is None:
            start = cp
        if not inside and start is not None:
            out.append([start, cp - 1])
            start = None
    return out


letter = regex.compile(r"\p{L}")
number = regex.compile(r"\p{N}")
unicode = {
    "letters": ranges(lambda c: letter.match(c) is not None),
    "numbers": ranges(lambda c: number.match(c) is not None),
}

# HF BpeTrainer on the committed sample: the first 60 kB of The Tempest and the Tang poems.
corpus = [
    (ROOT / "Data/sample/english-tempest.txt").read_text("utf-8")[:60000],
    (ROOT / "Data/sample/chinese-tang300.txt").read_text("utf-8")[:20000],
]
bl = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
cs = bl[:] + [256 + n for n in range(256 - len(bl))]
byte_to_char = dict(zip(bl + [b for b in range(256) if b not in bl], [chr(c) for c in cs]))
char_to_byte = {c: b for b, c in byte_to_char.items()}

hf_cases = []
for vocab_size, min_frequency in [(256 + 300, 2), (256 + 120, 5)]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    as_bytes = lambda s: [char_to_byte[c] for c in s]
    texts = ["Full fathom five thy father lies;", "To be, or not to be", "床前明月光，疑是地上霜。", "  spaces\n\nnewlines"]
    hf_cases.append({
        "vocab_size": vocab_size,
        "min_frequency": min_frequency,
        "merges": [[as_bytes(a), as_bytes(b)] for a, b in merges],
        "encodings": [{"text": t, "tokens": [as_bytes(s) for s in tok.encode(t).tokens]} for t in texts],
    })

# Special-token strings inside text: HF's default (every added token is matched, leftmost-longest,
# on the raw text) and HF with encode_special_tokens = True (never matched), on a byte-level
# tokenizer with no merges so that both sides need nothing but the special tokens.
specials = ["<|endoftext|>", "<think>", "</think>", "<th", "café"]
special_texts = [
    "<think>why</think><|endoftext|>", "<th<think>", "<thin", "<|endoftext|<|endoftext|>>",
    "café and cafe\u0301", "<think>\u0301 combining after", "x<|endoftext|>\n<think>", "<<think>>", "",
]
hf = Tokenizer(models.BPE(vocab={byte_to_char[b]: b for b in range(256)}, merges=[]))
hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
hf.add_special_tokens(specials)
assert [hf.token_to_id(t) for t in specials] == list(range(256, 256 + len(specials)))
hf_special = {"specials": specials, "cases": []}
for t in special_texts:
    matched = hf.encode(t, add_special_tokens=False).ids
    hf.encode_special_tokens = True
    unmatched = hf.encode(t, add_special_tokens=False).ids
    hf.encode_special_tokens = False
    hf_special["cases"].append({"text": t, "matched": matched, "unmatched": unmatched})

out = ROOT / "Tests/TokenizerTests/Fixtures/tokenizer_reference.json"
out.write_text(json.dumps({
    "generator": f"regex {regex.__version__}, tokenizers {tokenizers.__version__}",
    "pretokenize": pretokenize,
    "unicode": unicode,
    "hf_bpe": hf_cases,
    "hf_special": hf_special,
}, ensure_ascii=False))
print(f"wrote {out}: {len(pretokenize)} split cases, {len(unicode['letters'])} letter ranges, "
      f"{sum(len(c['merges']) for c in hf_cases)} HF merges")
