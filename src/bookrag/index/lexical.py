"""BM25F as sparse vectors, so Qdrant ranks lexically in process (Edge) and on a cluster alike.

A chunk is indexed as `breadcrumb\nbody` (see `chunking`); its fields are the page title
(the breadcrumb's first part), the section's headings (the rest) and the body, where a line
that does not teach (`teaching.is_aside`) is a field of its own. Each stemmed term's
frequency is weighted by field before saturation (`Weighting`), and the chunk's vector holds
the BM25 term-frequency part `tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_LEN))` of
those weighted frequencies and the weighted length; a query's vector holds 1.0 per distinct
term. The collection's IDF modifier multiplies in each term's inverse document frequency at
query time, which completes the score, so the weighting lives entirely in the stored values
and needs nothing of the engine beyond plain sparse vectors. Term ids are CRC32s of the stem
(or of two stems joined by a space, for adjacent pairs when they are switched on).

Chinese and Japanese, written without spaces, are read as Lucene's CJK analyzer reads them:
a run of Han ideographs, Hiragana and Katakana is its overlapping character pairs (`气象站`:
`气象`, `象站`; a lone character is itself), on the page and in the question alike, neither
stemmed nor stopped; the Latin words around it (`ROS 2节点`) are read as any others. So is a
Korean word, which carries its particles (`로봇은`: `로봇`, `봇은`).
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import Stemmer

from bookrag.book import cjk, folding, teaching
from bookrag.book.chunking import BREADCRUMB_SEPARATOR


class SparseVector(NamedTuple):
    """Term ids, ascending, and their weights (both engines take it as it is)."""

    indices: list[int]
    values: list[float]


K1 = 1.2
B = 0.75
# The chunk length (in weighted terms) that BM25's length normalisation is relative to. It is
# the chunker's typical output, not a statistic of one book: the mean over 350-token chunks is
# 87 on humanoid-textbook, 73 on agent-factory and 51 on robotics-course. Fixed, so a page's
# vectors do not change when other pages do; changing it needs a rebuild (`points.SCHEMA`).
AVG_LEN = 80.0

# A word, or an identifier (`create_publisher`); a name of one or two letters keeps the suffix
# that makes it a language (`C++`, `C#`, `F#`): without it, `C++` read as `c`, too short to be
# a term at all (a longer word's is code: `count++` is `count`).
_WORD = re.compile(
    r"(?<![^\W_])[^\W_]{1,2}(?:\+\+(?!\+)|#(?![\w#]))|[^\W_]+(?:[_'][^\W_]+)*", re.UNICODE
)
# The same for a text holding Chinese, Japanese or Korean, where a run of those characters is
# a word of its own, read as its pairs (`cjk.bigrams`). Its letter classes are slower to
# match, so a text without such characters is read with `_WORD`, as it always was.
_LETTER = f"[^\\W_{cjk.CHARACTERS}{cjk.HANGUL}]"
_WORD_CJK = re.compile(
    rf"(?<!{_LETTER}){_LETTER}{{1,2}}(?:\+\+(?!\+)|#(?![\w#]))"
    rf"|{_LETTER}+(?:[_']{_LETTER}+)*|[{cjk.CHARACTERS}{cjk.HANGUL}]+",
    re.UNICODE,
)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# A name with a version number (`TurtleBot3`, `Python3`, `Nav2`): readers name it without.
_VERSIONED = re.compile(r"([^\W\d_]{2,})\d+")

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he her here hers herself him himself his how i i'm if in into is isn't it
    it's its itself let's me more most mustn't my myself no nor not of off on once only or
    other ought our ours ourselves out over own same shan't she should shouldn't so some such
    than that that's the their theirs them themselves then there there's these they this those
    through to too under until up very was wasn't we were weren't what what's when where
    which while who whom why with won't would wouldn't you your yours yourself yourselves
    also just may might must shall will use used using via e.g i.e etc""".split()
)

_stemmer = Stemmer.Stemmer("english")
SPLIT_NUMBERS = True  # `ROS2` is also `ros` and `2` (switch kept for the ablation)
UNVERSIONED = True  # `TurtleBot3` is also `turtlebot` (switch kept for the ablation)


def words(text: str, versions: bool = True) -> list[str]:
    """Words of `text`, with identifiers such as `create_publisher` and names with a number
    (`ROS2`, as a book may also write `ROS 2`) also split into parts, and, with `versions`, a
    name with a version number also read without it: a book's `TurtleBot3` is the reader's
    `TurtleBot`. (A query is read without: its `Context7` does not ask about `context`.)"""
    text = folding.fold(text)
    return _words(text, versions, cjk.PAIRED_RUN.search(text) is not None)


def _words(text: str, versions: bool, held: bool) -> list[str]:
    """`words`, told whether `text` holds Chinese, Japanese or Korean (`held`)."""
    out: list[str] = []
    for match in (_WORD_CJK if held else _WORD).finditer(text):
        word = match.group()
        if held and cjk.PAIRED_RUN.match(word):
            out.extend(pair for piece in cjk.pieces(word) for pair in cjk.bigrams(piece))
            continue
        lower = word.lower()
        out.append(lower)
        parts: list[str] = []
        if (
            "_" in word
            or (not word.islower() and not word.isupper() and not word.istitle())
            or _numbered_acronym(word)
        ):
            parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
            parts = parts if len(parts) > 1 else []
        # A name (capitalised: `base64` and `float64` are no `base` or `float`).
        versioned = _VERSIONED.fullmatch(word) if UNVERSIONED and versions else None
        if versioned and not word.islower() and versioned.group(1).lower() not in parts:
            out.append(versioned.group(1).lower())  # `ROS2` already gives `ros`
        out.extend(parts)
    return out


def _numbered_acronym(word: str) -> bool:
    """`ROS2`, `PX4`, `EC2`: capitals with a number, which books also write apart (`ROS 2`)."""
    return SPLIT_NUMBERS and word.isupper() and any(c.isdigit() for c in word)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word.replace("'", "")))


def terms(text: str, versions: bool = True) -> list[str]:
    """Stemmed, stop-word-free terms of `text`, in order, repeats kept (`versions`: `words`)."""
    text = folding.fold(text)
    held = cjk.PAIRED_RUN.search(text) is not None  # else no word needs the test below
    return [
        w if held and cjk.PAIRED_RUN.match(w) else _stem(w)
        for w in _words(text, versions, held)
        if w not in STOP_WORDS and (len(w) > 1 or w.isdigit() or (held and cjk.PAIRED_RUN.match(w)))
    ]


def name_terms(text: str) -> set[str]:
    """Stemmed terms of the names in `text`: acronyms, CamelCase, capitalised words that do not
    start a sentence, and words mixing letters and digits (`MQTT`, `InfluxDB`, `Grafana`, `PX4`).
    """
    names: set[str] = set()
    sentence_start = True
    text = folding.fold(text)
    for match in (_WORD_CJK if cjk.PAIRED_RUN.search(text) else _WORD).finditer(text):
        word = match.group()
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        capitalised = word[0].isupper() and not sentence_start
        if len(word) > 1 and (capitalised or word.isupper() or mixed or _is_camel(word)):
            found = terms(word, versions=False)
            # `ROS2` names what `ROS 2` does: its parts must be in the book, not the joined word.
            names.update(found[1:] if _numbered_acronym(word) and len(found) > 1 else found)
        tail = text[match.end() : match.end() + 2]
        sentence_start = tail[:1] in ".?!。！？" and tail[:1] != ""
    return names


def _is_camel(word: str) -> bool:
    return any(a.islower() and b.isupper() for a, b in itertools.pairwise(word))


def term_id(term: str) -> int:
    """A stable 32-bit id for a stemmed term."""
    return zlib.crc32(term.encode("utf-8"))


@dataclass
class Weighting:
    """How a chunk's fields count (BM25F-style: term frequencies are weighted by field before
    saturation). Defaults are the technique switches measured in `benchmarks/ablation.py`."""

    title: float = 2.0  # a term in the page title counts this many times a body occurrence
    heading: float = 2.0  # ... in the section's heading trail
    # ... in a line that does not teach (navigation, links, quiz options): measured with no
    # gain on either dev book (benchmarks/ablation.md), so these lines count as body text.
    aside: float = 1.0
    pairs: bool = False  # adjacent-term pairs as extra terms (measured: no gain; off)


WEIGHTING = Weighting()
_PAIR_WEIGHT = 0.5  # a pair is evidence on top of its two terms, not a third term


def document_vector(text: str, weighting: Weighting | None = None) -> SparseVector:
    """BM25F weights of a chunk's indexed text (`breadcrumb\\nbody`, see `chunking`)."""
    w = weighting or WEIGHTING
    trail, _, body = text.partition("\n")
    title, *headings = trail.split(BREADCRUMB_SEPARATOR)
    counts: dict[int, float] = defaultdict(float)
    length = 0.0
    fields = [(title, w.title), (" ".join(headings), w.heading)]
    fields += [(line, w.aside if teaching.is_aside(line) else 1.0) for line in body.split("\n")]
    for field_text, weight in fields:
        found = terms(field_text)
        for term in found:
            counts[term_id(term)] += weight
        if w.pairs:
            for pair in itertools.pairwise(found):
                counts[term_id(" ".join(pair))] += weight * _PAIR_WEIGHT
        # A down-weighted line (an aside) still takes its room: a quiz chunk must not read
        # as short, and so lift its few teaching lines, because its options count less.
        length += max(weight, 1.0) * len(found)
    norm = K1 * (1 - B + B * length / AVG_LEN)
    ids = sorted(counts)
    return SparseVector(ids, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in ids])


def query_vector(text: str, weighting: Weighting | None = None) -> SparseVector:
    """One unit weight per distinct query term (and adjacent pair); Qdrant applies the IDF."""
    found = terms(text, versions=False)
    weights = dict.fromkeys((term_id(t) for t in found), 1.0)
    if (weighting or WEIGHTING).pairs:
        for pair in itertools.pairwise(found):
            weights.setdefault(term_id(" ".join(pair)), 1.0)
    ids = sorted(weights)
    return SparseVector(ids, [weights[i] for i in ids])


def idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency, the same formula Qdrant's IDF modifier uses."""
    return math.log((documents - document_frequency + 0.5) / (document_frequency + 0.5) + 1)
