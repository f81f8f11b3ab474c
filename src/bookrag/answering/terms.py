"""A query's terms, weighed by how rare they are in the book: what retrieval, the relevance
floor and extractive answers measure a text against (`QueryTerms.coverage`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bookrag.book import cjk
from bookrag.index import lexical
from bookrag.index.store import BookStore

# A sentence saying what something is: its subject, then one of these within its first words.
_DEFINING_VERBS = frozenset({"is", "are", "means", "refers", "denotes", "describes", "stands"})
_DEFINING_REACH = 12
# Words opening a clause: a defining verb after one of them is that clause's ("knowing when
# X is needed"), so the words before it are no subject saying what X is (`_in_a_clause`).
_SUBORDINATORS = frozenset(
    "when whenever whether how if why where wherever while because although though since "
    "unless until".split()
)
_ARTICLES = frozenset({"a", "an", "the"})
_BRACKETED = re.compile(r"\([^()]*\)")
DEFINITIONS = True  # answer "What is X?" with what X is (switch kept for the ablation)
_DEFINED_WORDS = 6
_NOT_A_NAME = frozenset(
    "of between in for with to on at from by about when why how that which who do does".split()
)
INTERROGATIVES = frozenset({"how", "what", "when", "where", "which", "who", "why"})
# "What is X?", "What are the Xs?", "Define X", "What does X mean?" (or "stand for"): a
# question for what X is, read word by word (a pattern with several ways to place the same
# spaces takes time that grows as a power of their number).
_ASKS_WHAT = ("what is ", "what are ", "what's ", "define ")
_ASKS_MEANING = ("what does ", (" mean", " stand for"))
# "What exactly is X?" asks what X is: a closed set of intensifiers (a rule on any "-ly"
# word reads "What anomaly is detected?" as asking what "detected" is).
_WHAT_ADVERB = re.compile(
    r"^what (?:exactly|really|actually|precisely|basically) (?=(?:is|are) )", re.IGNORECASE
)


@dataclass(frozen=True)
class QueryTerms:
    """A query's distinct terms with their IDF weights, and which of them the book has."""

    weights: dict[str, float]
    in_book: frozenset[str]
    missing_names: frozenset[str] = frozenset()
    asks: frozenset[str] = frozenset()  # the query's interrogatives ("why", "which", ...)
    defines: tuple[str, ...] = ()  # the terms of X in "What is X?", in order

    @property
    def book_coverage(self) -> float:
        """IDF-weighted share of the query's terms that occur anywhere in the book."""
        return self.coverage_of(self.in_book)

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the query's terms found in `text`."""
        return self.coverage_of(set(lexical.terms(text)))

    def coverage_of_vector(self, vector: lexical.SparseVector) -> float:
        """IDF-weighted share of the query's terms a chunk's stored BM25 vector holds: the
        same as `coverage` of the chunk's text, without reading the text again."""
        present = set(vector.indices)
        return self.coverage_of({t for t in self.weights if lexical.term_id(t) in present})

    def names_heading(self, heading: str, title: str) -> bool:
        """Whether the query names what sets a section's heading apart from its page's title
        (the "exercises" of "ROS 2 exercises" in a page on ROS 2)."""
        own = set(lexical.terms(heading)) - set(lexical.terms(title))
        return self.coverage_of(own) > 0

    def coverage_of(self, present: set[str] | frozenset[str]) -> float:
        total = sum(self.weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in self.weights.items() if t in present) / total


def query_terms(store: BookStore, query: str) -> QueryTerms:
    """Weigh the query's terms by how rare they are in the book (unseen terms weigh most)."""
    names = lexical.name_terms(query)
    found = lexical.terms(query, versions=False)
    unique = list(dict.fromkeys([*found, *names]))
    ids = {t: lexical.term_id(t) for t in unique}
    df, n = store.document_frequencies(ids.values())
    in_book = frozenset(t for t, i in ids.items() if df[i] > 0)
    across = _across_words(found, in_book)
    return QueryTerms(
        weights={t: lexical.idf(df[i], n) for t, i in ids.items() if t not in across},
        in_book=in_book,
        missing_names=frozenset(names - in_book),
        asks=frozenset(lexical.words(query)) & INTERROGATIVES,
        defines=defined_terms(query),
    )


def _across_words(found: list[str], in_book: frozenset[str]) -> set[str]:
    """The character pairs of the query's Chinese, Japanese or Korean (`lexical`) that the
    book lacks because they are no words: a pair across two words, one of them the book's
    (`的花` of `番茄的花盆`, beside `花盆`), a character left alone, and a pair of Hiragana only
    (Japanese writes its particles and verb endings in it: `には`, `すれ`). Weighed, they
    would make any question in these scripts read as one about what the book does not say."""
    across = set()
    for i, term in enumerate(found):
        if term in in_book or not cjk.PAIRED_RUN.fullmatch(term):
            continue
        if cjk.KANA_ONLY.fullmatch(term):
            across.add(term)
            continue
        before = found[i - 1] if i else ""
        after = found[i + 1] if i + 1 < len(found) else ""
        overlaps = (before in in_book and before[-1:] == term[0]) or (
            after in in_book and after[:1] == term[-1]
        )
        if len(term) == 1 or overlaps:
            across.add(term)
    return across


def defined_terms(query: str) -> tuple[str, ...]:
    """The terms of what a question asks the meaning of, in order ("What is a ROS 2 node?":
    `ros`, `2`, `node`), or none when it asks something else."""
    named = (
        _named(" ".join(query.split()[: _DEFINED_WORDS + 4]).rstrip("? ")) if DEFINITIONS else ""
    )
    words = named.split()
    if not words and DEFINITIONS and cjk.PAIRED_RUN.search(query):  # 什么是X, Xとは, X란
        named = cjk.asked_meaning(query)
        words = [named] if named and cjk.word_count(named) <= _DEFINED_WORDS else []
    # A name of something ("a ROS 2 node"), not a clause ("the main stages of training ...").
    if not words or len(words) > _DEFINED_WORDS or _NOT_A_NAME & {w.lower() for w in words}:
        return ()
    return tuple(dict.fromkeys(lexical.terms(named, versions=False)))


def _named(question: str) -> str:
    """What `question` (one space between words, no `?`) asks the meaning of, or ""."""
    if any(mark in question for mark in ",;:?"):
        return ""
    # An adverb asks the same: "What exactly is X?" is "What is X?".
    question = _WHAT_ADVERB.sub("What ", question, count=1)
    lower = question.lower()
    start = next((len(p) for p in _ASKS_WHAT if lower.startswith(p)), 0)
    if start:
        return question[start:]
    prefix, endings = _ASKS_MEANING
    ending = next((e for e in endings if lower.endswith(e)), "")
    if lower.startswith(prefix) and ending:
        return question[len(prefix) : len(question) - len(ending)]
    return ""


def defines(sentence: str, wanted: tuple[str, ...]) -> bool:
    """Whether `sentence` opens by saying what `wanted` (terms, in order) is: its subject, the
    words before its first defining verb, ends on `wanted`'s last term and holds all of them
    ("Vision-Language-Action models are ..." for `vision languag action model`) or no others
    ("A node is ..." for `ros 2 node`); an acronym stands for the terms it abbreviates ("VLA
    models are ..."), and what brackets spell out may be read or left out ("Global
    Interpreter Lock (GIL) is ..." for `gil`, "URDF (Unified Robot Description Format)
    is ..." for `urdf`)."""
    if not wanted:
        return False
    if cjk.PAIRED_RUN.fullmatch(wanted[-1]):  # a Chinese, Japanese or Korean name
        subject = cjk.defining_subject(sentence)
        return subject is not None and _names(lexical.terms(subject, versions=False), wanted)
    opening = sentence[: _DEFINING_REACH * 20]  # the subject is in its first words
    if not _DEFINING_VERBS & set(opening.lower().split()):  # cheap: most sentences stop here
        return False
    return any(_subject_is(text, wanted) for text in (opening, _BRACKETED.sub(" ", opening)))


def _subject_is(sentence: str, wanted: tuple[str, ...]) -> bool:
    words = lexical.words(sentence, versions=False)
    verb = next((i for i, w in enumerate(words[:_DEFINING_REACH]) if w in _DEFINING_VERBS), 0)
    if _in_a_clause(words[:verb]):
        return False
    subject = [
        t
        for term in lexical.terms(" ".join(words[:verb]), versions=False)
        for t in _expand(term, wanted)
    ]
    return _names(subject, wanted)


def _names(subject: list[str], wanted: tuple[str, ...]) -> bool:
    """Whether a sentence's `subject` (its terms) is what `wanted` names: it ends on its last
    term (an X, not X's anything) and holds all of them, or no others."""
    if not subject or subject[-1] != wanted[-1]:
        return False
    return set(wanted) <= set(subject) or set(subject) <= set(wanted)


def _in_a_clause(subject: list[str]) -> bool:
    """Whether the words before a defining verb open a clause after other words ("knowing
    when X", "understanding of whether X"): the verb is then the clause's, not the subject's.
    A subordinator first, or after an article, may be a name's ("a while loop", "an if
    statement", "while loops")."""
    return any(
        word in _SUBORDINATORS and any(w not in _ARTICLES for w in subject[:at])
        for at, word in enumerate(subject)
    )


def _expand(term: str, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """`term`, or the run of `wanted` terms it is the initials of (`vla`: vision languag
    action)."""
    for start in range(len(wanted)):
        for end in range(start + 2, len(wanted) + 1):
            if "".join(w[0] for w in wanted[start:end]) == term:
                return wanted[start:end]
    return (term,)
