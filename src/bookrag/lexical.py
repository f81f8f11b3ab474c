"""BM25 as sparse vectors, so Qdrant ranks lexically in process (Edge) and on a cluster alike.

A chunk's vector holds, per stemmed term, the BM25 term-frequency part
`tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_LEN))`; a query's vector holds 1.0 per
distinct term. The collection's IDF modifier multiplies in each term's inverse document
frequency at query time, which completes the BM25 score. Term ids are CRC32s of the stem.
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import Counter
from functools import lru_cache
from typing import NamedTuple

import Stemmer


class SparseVector(NamedTuple):
    """Term ids, ascending, and their weights (both engines take it as it is)."""

    indices: list[int]
    values: list[float]


K1 = 1.2
B = 0.75
AVG_LEN = 180.0  # typical chunk length in terms; a fixed value keeps old vectors valid

_WORD = re.compile(r"[^\W_]+(?:[_'][^\W_]+)*", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

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


def words(text: str) -> list[str]:
    """Words of `text`, with identifiers such as `create_publisher` also split into parts."""
    out: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group()
        lower = word.lower()
        out.append(lower)
        if "_" in word or (not word.islower() and not word.isupper() and not word.istitle()):
            parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
            if len(parts) > 1:
                out.extend(parts)
    return out


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word.replace("'", "")))


def terms(text: str) -> list[str]:
    """Stemmed, stop-word-free terms of `text`, in order, repeats kept."""
    return [_stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


def name_terms(text: str) -> set[str]:
    """Stemmed terms of the names in `text`: acronyms, CamelCase, capitalised words that do not
    start a sentence, and words mixing letters and digits (`MQTT`, `InfluxDB`, `Grafana`, `PX4`).
    """
    names: set[str] = set()
    sentence_start = True
    for match in _WORD.finditer(text):
        word = match.group()
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        capitalised = word[0].isupper() and not sentence_start
        if len(word) > 1 and (capitalised or word.isupper() or mixed or _is_camel(word)):
            names.update(terms(word))
        tail = text[match.end() : match.end() + 2]
        sentence_start = tail[:1] in ".?!" and tail[:1] != ""
    return names


def _is_camel(word: str) -> bool:
    return any(a.islower() and b.isupper() for a, b in itertools.pairwise(word))


def term_id(term: str) -> int:
    """A stable 32-bit id for a stemmed term."""
    return zlib.crc32(term.encode("utf-8"))


def document_vector(text: str) -> SparseVector:
    """BM25 term-frequency weights of a chunk."""
    counts = Counter(term_id(t) for t in terms(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVG_LEN)
    ids = sorted(counts)
    return SparseVector(ids, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in ids])


def query_vector(text: str) -> SparseVector:
    """One unit weight per distinct query term; Qdrant applies the IDF."""
    ids = sorted({term_id(t) for t in terms(text)})
    return SparseVector(ids, [1.0] * len(ids))


def idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency, the same formula Qdrant's IDF modifier uses."""
    return math.log((documents - document_frequency + 0.5) / (document_frequency + 0.5) + 1)
