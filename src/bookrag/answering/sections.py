"""Which section of a page is shown for a query: the page's hits ranked by the query's terms
its title lacks (every section is indexed with the title), "What is X?" answered where X is
said to be something, and of those the best an answer can quote."""

from __future__ import annotations

from bookrag.answering.code_quotes import code_blocks
from bookrag.answering.hits import hit_vector
from bookrag.answering.sentences import TABLE_ROW, sentences
from bookrag.answering.terms import QueryTerms, defines
from bookrag.book import teaching
from bookrag.book.chunking import BREADCRUMB_SEPARATOR, with_subsections
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


def shown(hits: list[tuple[Hit, float]], terms: QueryTerms) -> tuple[Hit, float]:
    """The section to show for a page, with its score: the best that an answer can quote
    (`quotable`), else the best with any text."""
    with_text = [pair for pair in hits if str(pair[0].payload.get("text", "")).strip()]
    return next((pair for pair in with_text if quotable(pair[0], terms)), (with_text or hits)[0])


def quotable(hit: Hit, terms: QueryTerms) -> bool:
    """Whether an answer can quote the section: it teaches (a sentence, code or a table, its
    subsection headings included), or the question names what its heading adds to the page
    title ("further reading", "exercises"). A heading with no text, a section of only
    links, navigation, quiz options or questions to the reader, or one whose heading marks
    it as not written yet ("TBD Sections", a list of what is to come), ranks its page but
    is not what is shown for it."""
    p = hit.payload
    text = str(p.get("text", ""))
    if not text.strip():
        return False
    leads_into = [str(h) for h in p.get("leads_into") or ()]
    heading = own_heading(str(p.get("section", "")))
    if not SHOWN_TEACHES or (teaches(text) and not teaching.is_placeholder(heading)):
        return True
    if leads_into and teaches(with_subsections(text, leads_into)):
        return True
    return terms.names_heading(heading, str(p.get("title", "")))


def teaches(text: str) -> bool:
    """Whether a section holds what an answer quotes as teaching: a sentence or list item
    that is no aside (`sentences`), a code block or a table."""
    return (
        any(True for _ in sentences(text))
        or bool(code_blocks(text))
        or TABLE_ROW.search(text) is not None
    )
