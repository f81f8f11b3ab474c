"""Which section of a page is shown for a query: the page's hits ranked by the query's terms
its title lacks (every section is indexed with the title), "What is X?" answered where X is
said to be something, and of those the best an answer can quote."""

from __future__ import annotations

from bookrag.answering.sentences import sentences, teaches
from bookrag.answering.terms import QueryTerms, defines
from bookrag.book.chunking import BREADCRUMB_SEPARATOR
from bookrag.index import lexical
from bookrag.index.store import Hit

# A page's sections are told apart by the query's terms that its title does not hold: every
# section is indexed with the page title, so those terms only favour the page's shortest ones.
SECTIONS_BY_OWN_TERMS = True
# ... and a section whose own heading asks what the query asks ("Why Unity?" for "why ...")
# counts that as one more query term of average weight.
SECTIONS_BY_QUESTION_WORD = True
# The section shown for a page is one an answer can quote: not only links, navigation or quiz
# options, unless asked for (switch kept for the ablation).
SHOWN_TEACHES = True


def own_heading(section: str) -> str:
    """The last heading of a section's trail ("" for the page's opening text)."""
    return section.split(BREADCRUMB_SEPARATOR)[-1]


def hit_vector(hit: Hit) -> lexical.SparseVector:
    """A hit's BM25 vector: as stored, or built again from its text if the engine sent none."""
    return hit.sparse or lexical.document_vector(embedding_text(hit))


def embedding_text(hit: Hit) -> str:
    """The text a hit was indexed (and is embedded and reranked) by: its trail, then its text."""
    p = hit.payload
    trail = " › ".join([str(p.get("title", "")), *[str(h) for h in p.get("headings", [])]])
    return f"{trail}\n{p.get('text', '')}"


def ranked_sections(hits: list[tuple[Hit, float]], terms: QueryTerms) -> list[tuple[Hit, float]]:
    """A page's hits, best section first: for "What is X?", those saying what X is first."""
    ranked = _by_own_terms(hits, terms)
    if not terms.defines:
        return ranked
    return sorted(ranked, key=lambda pair: not _defines_in(pair[0], terms.defines))


def _defines_in(hit: Hit, wanted: tuple[str, ...]) -> bool:
    """Whether a sentence an answer could quote from the hit says what `wanted` is."""
    return any(defines(unit, wanted) for unit in sentences(str(hit.payload.get("text", ""))))


def _by_own_terms(hits: list[tuple[Hit, float]], terms: QueryTerms) -> list[tuple[Hit, float]]:
    """A page's hits, best section first, scored on the query terms its title does not hold."""
    if not SECTIONS_BY_OWN_TERMS:
        return hits
    title = set(lexical.terms(str(hits[0][0].payload.get("title", ""))))
    own = {t: w for t, w in terms.weights.items() if t not in title}
    if not own:
        return hits
    ids = {lexical.term_id(t): w for t, w in own.items()}
    # Only a query that asks something (why, which, ...) looks at the sections' headings.
    asks = terms.asks if SECTIONS_BY_QUESTION_WORD else frozenset()
    asked = sum(terms.weights.values()) / len(terms.weights)
    rescored = []
    for hit, _ in hits:
        vector = hit_vector(hit)
        values = dict(zip(vector.indices, vector.values, strict=True))
        score = sum(w * values.get(i, 0.0) for i, w in ids.items())
        section = str(hit.payload.get("section", ""))
        if asks and asks & set(lexical.words(own_heading(section))):
            score += asked
        rescored.append((hit, score))
    if not any(score for _, score in rescored):
        return hits
    return sorted(rescored, key=lambda pair: pair[1], reverse=True)


def shown(hits: list[tuple[Hit, float]], terms: QueryTerms) -> Hit:
    """The section to show for a page: the best that an answer can quote. A heading with no
    text of its own, or a section of only links, navigation or quiz options, ranks the page
    but is not shown, unless the question names what its heading adds to the page title
    ("further reading", "exercises")."""
    for hit, _ in hits:
        text, p = str(hit.payload.get("text", "")), hit.payload
        if not text.strip():
            continue
        asked = terms.names_heading(own_heading(str(p.get("section", ""))), str(p.get("title")))
        if not SHOWN_TEACHES or teaches(text) or asked:
            return hit
    return next((h for h, _ in hits if str(h.payload.get("text", "")).strip()), hits[0][0])
