"""The quote detector's false-positive and false-negative rates on constructed quotes.

Quotes are cut from the prose paragraphs of five method pages (docs/methods/, copied into
benchmarks/data/quote_sources/ so that the cases stay fixed), the sources the detector
checks against, and wrapped in a reply, in each syntax in turn.
Supported quotes use the source's own words in its order: verbatim (the exact text, line
breaks included), a whitespace variant (line breaks as spaces, one space doubled or a
newline), a case variant (one word upper-cased or capitalized) and a punctuation variant
(a period or comma put inside the quote marks). Unsupported quotes
change the words: a paraphrase (one or two words swapped for synonyms), a splice (two
pieces of one paragraph joined), and off by one word (one dropped, substituted or
inserted). An unsupported quote whose words, lower-cased, still occur in that order in a
source is drawn again (counted in the results): that quote would be verbatim after all.

A false positive is a supported quote scored 1; a false negative an unsupported quote
scored 0. Wilson 95% intervals. Four settings: the default (whitespace collapsed, case and
punctuation count), ignore_case, collapse_whitespace off, and lenient (ignore_case and
strip_punctuation).

    .venv/bin/python benchmarks/quote_detector.py --out benchmarks/results/quote-detector.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
from pathlib import Path

import numpy as np

from tailscope.detectors import make_detector
from tailscope.stats import binomial_interval

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("arca", "gcg", "elicitation", "forecasting", "redteam")
SOURCE_FILES = [f"benchmarks/data/quote_sources/{name}.md" for name in NAMES]
COUNTS = {
    "verbatim": 60,
    "whitespace": 30,
    "case": 30,
    "punctuation": 30,
    "paraphrase": 40,
    "spliced": 40,
    "dropped-word": 20,
    "substituted-word": 20,
    "inserted-word": 20,
}
SUPPORTED = {"verbatim", "whitespace", "case", "punctuation"}
SETTINGS = {"default": {}, "ignore_case": {"ignore_case": True}}
SETTINGS["exact_whitespace"] = {"collapse_whitespace": False}
SETTINGS["lenient"] = {"ignore_case": True, "strip_punctuation": True}
WRAPPERS = (
    "The page says %[{}]%.",
    'It reads "{}" there.',
    "As written: \u201c{}\u201d, in the docs.",
)
SYNONYMS = {
    "each": "every", "every": "each", "uses": "employs", "use": "employ", "gives": "provides",
    "shows": "displays", "finds": "locates", "find": "locate", "makes": "creates",
    "runs": "executes", "run": "execution", "small": "little", "large": "big", "first": "initial",
    "only": "just", "also": "too", "with": "using", "when": "whenever", "which": "that",
    "number": "count", "top": "highest", "same": "identical", "between": "among",
    "new": "fresh", "best": "finest", "one": "a single", "all": "every", "most": "the majority",
    "fit": "fitting", "returns": "yields", "keeps": "retains", "not": "never",
}  # fmt: skip
DELIMITERS = set('%[]"\u201c\u201d')


def paragraphs(text: str) -> list[str]:
    """Prose paragraphs: no code, tables, headings or lists; at least 20 words."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    keep = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if block and block[0] not in "#|-*>" and len(block.split()) >= 20:
            keep.append(block)
    return keep


def words_of(text: str) -> list[tuple[int, int]]:
    """(start, end) of every whitespace-separated word without a quote delimiter."""
    return [m.span() for m in re.finditer(r"\S+", text)]


class Builder:
    def __init__(self, sources: list[str], rng: random.Random):
        self.rng = rng
        self.paragraphs = [p for s in sources for p in paragraphs(s)]
        self.vocabulary = sorted({w.lower() for p in self.paragraphs for w in p.split()})
        self.word_lines = [" " + " ".join(s.lower().split()) + " " for s in sources]
        self.redrawn = 0

    def span(self, low: int = 5, high: int = 12) -> tuple[str, list[str]]:
        """A piece of a paragraph of `low` to `high` words, without delimiters."""
        while True:
            paragraph = self.rng.choice(self.paragraphs)
            spans = words_of(paragraph)
            length = self.rng.randint(low, high)
            if len(spans) <= length:
                continue
            first = self.rng.randrange(len(spans) - length)
            start, end = spans[first][0], spans[first + length - 1][1]
            text = paragraph[start:end]
            if not DELIMITERS & set(text):
                return text, text.split()

    def in_sources(self, words: list[str]) -> bool:
        needle = " " + " ".join(w.lower() for w in words) + " "
        return any(needle in line for line in self.word_lines)

    def make(self, kind: str) -> str:
        while True:
            quote = getattr(self, "_" + kind.replace("-", "_"))()
            if kind in SUPPORTED or not self.in_sources(quote.split()):
                return quote
            self.redrawn += 1

    def _verbatim(self) -> str:
        return self.span()[0]

    def _whitespace(self) -> str:
        words = self.span()[1]
        gap = self.rng.randrange(len(words) - 1)
        joint = self.rng.choice(["  ", "\n", " \n "])
        return " ".join(words[: gap + 1]) + joint + " ".join(words[gap + 1 :])

    def _case(self) -> str:
        while True:
            words = self.span()[1]
            letters = [i for i, w in enumerate(words) if w.upper() != w]
            if letters:
                break
        i = self.rng.choice(letters)
        changed = words[i].capitalize()
        words[i] = words[i].upper() if changed == words[i] or self.rng.random() < 0.5 else changed
        return " ".join(words)

    def _punctuation(self) -> str:
        text = self.span()[0].rstrip(".,;:!?")
        return text + self.rng.choice([".", ",", "!", "..."])

    def _paraphrase(self) -> str:
        while True:
            words = self.span(6, 14)[1]
            hits = [i for i, w in enumerate(words) if w.lower() in SYNONYMS]
            if hits:
                for i in self.rng.sample(hits, min(2, len(hits))):
                    words[i] = SYNONYMS[words[i].lower()]
                return " ".join(words)

    def _spliced(self) -> str:
        while True:
            paragraph = self.rng.choice(self.paragraphs).split()
            if len(paragraph) < 20 or DELIMITERS & set(" ".join(paragraph)):
                continue
            a, b = self.rng.randint(4, 7), self.rng.randint(4, 7)
            first = self.rng.randrange(len(paragraph) - a - b - 3)
            second = self.rng.randrange(first + a + 3, len(paragraph) - b + 1)
            return " ".join(paragraph[first : first + a] + paragraph[second : second + b])

    def _dropped_word(self) -> str:
        words = self.span(6, 12)[1]
        del words[self.rng.randrange(1, len(words) - 1)]
        return " ".join(words)

    def _substituted_word(self) -> str:
        words = self.span(6, 12)[1]
        i = self.rng.randrange(len(words))
        words[i] = self._other_word(words[i])
        return " ".join(words)

    def _inserted_word(self) -> str:
        words = self.span(6, 12)[1]
        words.insert(self.rng.randrange(1, len(words)), self._other_word(""))
        return " ".join(words)

    def _other_word(self, than: str) -> str:
        while True:
            word = self.rng.choice(self.vocabulary)
            if word != than.lower() and not DELIMITERS & set(word):
                return word


def rate(errors: int, total: int) -> dict:
    low, high = binomial_interval(errors, total)
    return {
        "errors": errors,
        "n": total,
        "rate": errors / total,
        "wilson95": [float(low), float(high)],
    }


def evaluate(cases: list[dict], sources: list[str]) -> dict:
    results = {}
    for name, params in SETTINGS.items():
        detector = make_detector("quote", source_files=sources, **params)
        scores = detector.score([c["reply"] for c in cases])
        flagged = scores >= 0.5
        supported = np.array([c["supported"] for c in cases])
        by_kind = {}
        for kind in COUNTS:
            mask = np.array([c["kind"] == kind for c in cases])
            wrong = flagged[mask] if kind in SUPPORTED else ~flagged[mask]
            by_kind[kind] = rate(int(wrong.sum()), int(mask.sum()))
        results[name] = {
            "false_positive": rate(int(flagged[supported].sum()), int(supported.sum())),
            "false_negative": rate(int((~flagged[~supported]).sum()), int((~supported).sum())),
            "by_kind": by_kind,
        }
    return results


def nearest_similarity(cases: list[dict], sources: list[str]) -> dict:
    """Mean rapidfuzz similarity (0-100) of each unsupported kind's nearest source span."""
    detector = make_detector("quote", source_files=sources)
    means = {}
    for kind in COUNTS:
        if kind in SUPPORTED:
            continue
        found = [
            v.similarity
            for c in cases
            if c["kind"] == kind
            for v in detector.unsupported(c["reply"])
        ]
        means[kind] = round(float(np.mean(found)), 1) if found else None
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sources = [str(ROOT / f) for f in SOURCE_FILES]
    texts = [Path(s).read_text(encoding="utf-8") for s in sources]
    builder = Builder(texts, random.Random(args.seed))
    cases = []
    for kind, count in COUNTS.items():
        for i in range(count):
            quote = builder.make(kind)
            reply = WRAPPERS[i % len(WRAPPERS)].format(quote)
            cases.append({"kind": kind, "supported": kind in SUPPORTED, "reply": reply})
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    result = {
        "command": f"benchmarks/quote_detector.py --seed {args.seed}",
        "commit": commit.stdout.strip(),
        "sources": {
            f: hashlib.sha256(t.encode()).hexdigest()[:16]
            for f, t in zip(SOURCE_FILES, texts, strict=True)
        },
        "paragraphs": len(builder.paragraphs),
        "cases": len(cases),
        "redrawn_unsupported": builder.redrawn,
        "settings": evaluate(cases, sources),
        "nearest_similarity": nearest_similarity(cases, sources),
        "examples": {k: next(c["reply"] for c in cases if c["kind"] == k) for k in COUNTS},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out.with_suffix(".cases.jsonl")).write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )
    print(json.dumps({k: result[k] for k in ("cases", "redrawn_unsupported")}))
    for name, setting in result["settings"].items():
        fp, fn = setting["false_positive"], setting["false_negative"]
        print(f"{name}: FP {fp['errors']}/{fp['n']}  FN {fn['errors']}/{fn['n']}")


if __name__ == "__main__":
    main()
