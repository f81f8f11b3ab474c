"""Keyless answers quote what teaches, as plain text, and odd books still get answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bookrag.answering import extractive, list_quotes
from bookrag.answering import sentences as sentence_units
from bookrag.answering.extractive import extractive_answer, plain_text
from bookrag.answering.generation import NOT_FOUND
from bookrag.answering.models import Answer, Question, ask_question
from bookrag.answering.pipeline import Book, answer
from bookrag.answering.retrieval import Passage, Retriever
from bookrag.answering.sections import quotable
from bookrag.answering.selection import framed, shown
from bookrag.answering.terms import QueryTerms, defined_terms, defines
from bookrag.book import teaching
from bookrag.book.chunking import count_tokens
from bookrag.config import Settings
from bookrag.index import lexical
from bookrag.index.ingest import ingest, site_config
from bookrag.index.store import BookStore, Hit


def passage(text: str, section: str = "Setup", url: str = "https://b.org/p#setup") -> Passage:
    return Passage("p.md", url, "https://b.org/p", "Page", section, text, 1.0, 1.0)


def terms(*words: str) -> QueryTerms:
    stems = {t: 1.0 for w in words for t in lexical.terms(w)}
    return QueryTerms(weights=stems, in_book=frozenset(stems))


def book_of(pages: dict[str, str], tmp_path: Path, store: BookStore, settings: Settings) -> Book:
    """A book of these pages (file name -> Markdown), ingested into `store`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in pages.items():
        (docs / name).write_text(text)
    ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
    return Book.open(store, settings)


def mast_pages(*names: str) -> dict[str, str]:
    """Pages on other instruments: they make a book's terms rarer, as in a real book."""
    return {
        f"{n}.md": f"# {n.title()}\n\nThe {n} sits on the mast beside the logger.\n" for n in names
    }


def test_extractive_answer_reads_as_plain_text() -> None:
    text = (
        "> **Each tip of the bucket equals 0.2794 mm of rain.**\n\n"
        "Read the [gauge guide](https://example.org/gauge) to calibrate the bucket."
    )
    result = extractive_answer([passage(text)], terms("bucket", "rain", "tip"), None)
    assert "**" not in result.answer and "](" not in result.answer
    assert not any(line.startswith(">") for line in result.answer.splitlines())
    assert "Sources:" not in result.answer and "https://" not in result.answer
    assert "Each tip of the bucket equals 0.2794 mm of rain. [1]" in result.answer
    assert result.citations[0].url == "https://b.org/p#setup"
    assert result.sources == ["https://b.org/p#setup"]


def test_extractive_answer_skips_navigation_links_and_quiz_options() -> None:
    text = "\n".join(
        [
            "[← Course Syllabus](./syllabus) | [Hardware Requirements →](./hardware)",
            "- [Gazebo hardware docs](https://gazebosim.org/docs)",
            "1. **What hardware runs the simulator?**",
            "   a) A laptop GPU runs the simulator hardware.",
            "The simulator needs a workstation with an RTX GPU and 32 GB of memory as hardware.",
        ]
    )
    result = extractive_answer([passage(text)], terms("hardware", "simulator"), None)
    body = result.answer.split("\n", 2)[2]
    assert "RTX GPU and 32 GB" in body
    for noise in ("Syllabus", "gazebosim", "What hardware", "A laptop GPU"):
        assert noise not in body


def test_list_item_is_quoted_with_its_lead_in() -> None:
    text = "To estimate tokens, use this rule of thumb:\n- Multiply the word count by 1.3."
    result = extractive_answer([passage(text)], terms("estimate", "tokens", "word"), None)
    assert "To estimate tokens, use this rule of thumb: Multiply the word count by 1.3." in (
        result.answer
    )


def test_code_question_quotes_the_code_that_answers_it() -> None:
    text = (
        "Counting is easy once you know pipes.\n\n"
        '```bash\ngrep "ERROR" application.log | wc -l\n```'
    )
    result = extractive_answer([passage(text)], terms("grep", "ERROR", "wc", "count"), None)
    assert '```bash\ngrep "ERROR" application.log | wc -l\n```' in result.answer


def test_a_long_code_block_is_quoted_at_the_lines_that_answer() -> None:
    setup = [f"sensor_{n} = Sensor(pin={n})" for n in range(20)]
    code = "\n".join(["```python", *setup, "logger.interval_seconds = 300", "```"])
    text = f"The logger script sets up every sensor first.\n\n{code}"
    result = extractive_answer([passage(text)], terms("logger", "interval", "seconds"), None)
    assert "logger.interval_seconds = 300" in result.answer
    assert "sensor_0 =" not in result.answer and result.answer.count("```") == 2
    assert "```python\n…\nsensor_" in result.answer  # lines left out are marked


def test_quoted_code_starts_at_a_line_with_code_and_marks_its_cuts() -> None:
    lines = ["```python", "import gauge", "", "", *[f"step_{n}()" for n in range(30)], "```"]
    block = "\n".join(lines)
    result = extractive_answer([passage(block)], terms("import", "gauge"), None)
    assert "```python\nimport gauge\n" in result.answer
    assert result.answer.count("…") == 1 and "step_29" not in result.answer
    sliced = "\n".join(["```python", *[f"step_{n}()" for n in range(30)], "", "tip()", "```"])
    window = extractive_answer([passage(sliced)], terms("tip"), None).answer
    assert "```python\n…\n" in window and "tip()" in window


def test_code_is_quoted_when_it_holds_what_the_prose_does_not() -> None:
    # The sentence names the rain gauge and its pin; only the code says how it is debounced.
    text = (
        "The rain gauge hangs off pin 17 of the board.\n\n"
        "```python\ngauge = Button(17, bounce_time=0.05)\n```"
    )
    result = extractive_answer([passage(text)], terms("rain", "gauge", "pin", "bounce"), None)
    assert "pin 17 of the board" in result.answer and "bounce_time=0.05" in result.answer


@pytest.fixture
def odd_book(tmp_path: Path, store: BookStore, settings: Settings) -> Book:
    """A book of pages with no headings, only code, one long heading line (prose, a table), and
    MDX props."""
    pages = {
        "plain.md": "Sourdough starter needs flour and water fed daily at room temperature.\n",
        "code.md": "```python\ndef knead(dough):\n    return dough * 2\n```\n",
        "oneline.md": "# Proofing\\n\\n## Timing\\n\\n"
        "Proofing dough rests ninety minutes before baking.\n",
        "oven.md": "# Oven\\n\\n| Loaf | Oven temperature |\\n|---|---|\\n"
        "| Rye | 230 degrees |\\n| Brioche | 180 degrees |\n",
        "quiz.mdx": "# Quiz\n\nCheck yourself.\n\n<Quiz\n  questions={[\n\n"
        "{question: 'How long does proofing dough rest before baking?',"
        " options: ['ninety minutes']}\n\n]}\n/>\n",
    }
    return book_of(pages, tmp_path, store, settings)


def test_page_in_one_long_heading_is_searchable_and_quotable(odd_book: Book) -> None:
    result = answer(odd_book, Question("How long does proofing dough rest before baking?"))
    assert "ninety minutes" in result.answer
    assert result.sources[0].endswith("/oneline")  # the page itself: the site has no anchors
    table = answer(odd_book, Question("What oven temperature does brioche bake at?"))
    assert "Brioche | 180 degrees" in table.answer and table.sources[0].endswith("/oven")


def test_odd_pages_and_questions_get_sensible_results(odd_book: Book) -> None:
    stop_words = answer(odd_book, Question("what is it and how would they do this?"))
    assert stop_words.answer == NOT_FOUND and stop_words.sources == []
    long_question = " ".join(["sourdough starter flour water fed daily"] * 120)
    found = odd_book.retriever.retrieve(long_question, limit=5)
    assert found.passages[0].source == "plain.md"
    code = odd_book.retriever.retrieve("knead dough", limit=5)
    assert code.passages[0].source == "code.md"
    assert "def knead" in answer(odd_book, Question("knead dough function")).answer


def test_items_sharing_a_lead_in_are_quoted_with_it_once() -> None:
    text = "**You will be able to:**\n- Explain what a node does.\n- Explain what a topic does."
    result = extractive_answer([passage(text)], terms("explain", "node", "topic"), None)
    assert result.answer.count("You will be able to:") == 1
    assert "Explain what a node does.; Explain what a topic does." in result.answer


RAIN_ITEMS = "A bucket tips once per 0.2 mm of rain.", "A reed switch counts each tip."


@pytest.mark.parametrize(
    "labelled",
    [  # an item ending in a colon, a bold line, a bold item: each a label for what it holds
        "The station has two parts:\n1. **Rain gauge:**\n   - {}\n   - {}\n"
        "2. **Wind vane:**\n   - Eight magnets mark the compass points.\n",
        "Two parts matter:\n\n**Rain gauge**\n- {}\n- {}\n\n**Wind vane**\n- Eight magnets.",
        "The station has two parts:\n\n- **Rain gauge**\n   - {}\n   - {}\n- **Wind vane**\n"
        "   - Eight magnets mark north.",
    ],
)
def test_a_label_leads_into_the_items_under_it(labelled: str) -> None:
    text = labelled.format(*RAIN_ITEMS)
    result = extractive_answer([passage(text)], terms("bucket", "tips", "switch", "rain"), None)
    quote = next(line for line in result.answer.split("\n") if "bucket" in line)
    # The items read with the label they sit under, once, and the list stays apart from the
    # wind vane's items: not "- A bucket tips ..." with nothing to say what it is part of.
    assert quote.startswith("Rain gauge: A bucket tips once per 0.2 mm of rain.; A reed switch")
    assert "Wind vane" not in quote and "magnets" not in quote


def test_a_step_leading_into_a_one_line_command_is_quoted_with_it() -> None:
    text = (
        "1. Mount the gauge on the mast.\n2. Start the logger service:\n\n"
        "```bash\nsudo systemctl start rain-logger\n```\n\n3. Check the log file:\n\n"
        "```bash\ntail -f /var/log/rain.log\ngrep tip /var/log/rain.log\n```"
    )
    result = extractive_answer([passage(text)], terms("start", "logger", "service"), None)
    assert "2. Start the logger service: `sudo systemctl start rain-logger`\n" in result.answer
    # Two lines of code are a block to show as code, not a command to run inline.
    assert "Check the log file: `" not in result.answer


def test_an_item_keeps_what_it_says_before_leading_into_code() -> None:
    text = (
        "1. Clone the gauge firmware to your laptop. Then build it with:\n\n"
        "```bash\ncd firmware\nmake\n```\n\n2. Flash the board over USB."
    )
    result = extractive_answer([passage(text)], terms("clone", "firmware", "laptop"), None)
    assert "1. Clone the gauge firmware to your laptop. [1]" in result.answer


def test_a_command_is_quoted_only_with_the_line_right_before_it() -> None:
    text = (
        "Install the two logger tools with:\n\n```bash\nsudo apt update\n"
        "sudo apt install logger\n```\n\n```bash\nrm -rf /tmp/logger-cache\n```"
    )
    result = extractive_answer([passage(text)], terms("install", "logger", "tools"), None)
    assert "rm -rf" not in result.answer.split("```")[0]  # not as the install step's command


def test_part_of_a_list_is_quoted_with_marks_where_items_are_left_out() -> None:
    states = [
        "Sleeping on its battery through the whole night.",
        "Waking at dawn.",
        "Warming up.",
        "Measuring the rain gauge.",
        "Idling.",
        "Resting.",
        "Sending every reading over the radio link to the base station.",
    ]
    text = "A sensor node moves through these states:\n" + "\n".join(f"- {s}" for s in states)
    result = extractive_answer([passage(text)], terms("measuring", "rain", "gauge"), None)
    quote = result.answer.split("\n")[2]
    assert quote.startswith("A sensor node moves through these states: …; ")
    assert "Measuring the rain gauge." in quote and quote.endswith("; … [1]")
    whole = "States:\n- Sleeping on battery.\n- Measuring the rain gauge."
    quoted = extractive_answer([passage(whole)], terms("sleeping", "measuring", "rain"), None)
    assert "States: Sleeping on battery.; Measuring the rain gauge." in quoted.answer
    assert "…" not in quoted.answer  # every item is there


def test_a_section_of_only_a_line_leading_into_subsections_is_not_quoted() -> None:
    opening = passage("When you site the mast, keep in mind:", "Siting")
    teaching = passage(
        "Site the rain gauge away from trees, at twice their height.", "Rain gauge", "u#g"
    )
    result = extractive_answer([opening, teaching], terms("site", "rain", "gauge"), None)
    assert "keep in mind" not in result.answer
    assert "away from trees" in result.answer and result.sources == ["u#g"]


def test_a_numbered_step_is_quoted_with_its_number() -> None:
    text = (
        "1. Unscrew the funnel.\n2. Lift the bucket out.\n3. Rinse it with water.\n"
        "4. Put it back.\n5. Tip the bucket ten times by hand.\n6. Count the pulses."
    )
    result = extractive_answer([passage(text)], terms("tip", "bucket", "times"), None)
    assert "5. Tip the bucket ten times by hand. [1]" in result.answer


def test_a_sentence_goes_on_past_an_abbreviation() -> None:
    text = "Wind vanes vs. anemometers: a vane measures direction, e.g. North. Cups measure speed."
    result = extractive_answer([passage(text)], terms("vane", "anemometer", "direction"), None)
    assert "Wind vanes vs. anemometers: a vane measures direction, e.g. North." in result.answer


def test_a_heading_without_text_ranks_its_page_but_the_section_shown_has_text(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "kit.md": "# Kit\n\n## Hardware requirements\n\n### Minimum\n\n"
        "A workstation with an RTX GPU and 32 GB of memory.\n",
        "other.md": "# Other\n\nNothing about that here at all.\n",
    }
    book = book_of(pages, tmp_path, store, settings)
    found = book.retriever.retrieve("What hardware requirements are there?", limit=5)
    assert found.passages[0].url.endswith("#minimum")
    assert "RTX GPU" in answer(book, Question("What hardware requirements are there?")).answer


def anemometer_answer(
    page: str, tmp_path: Path, store: BookStore, settings: Settings
) -> tuple[Passage, Answer]:
    """The section shown first, and the answer, for a question on reading the anemometer in
    Python, asked of a book of `page` and two pages on other instruments."""
    book = book_of(
        {"anemometer.md": page, **mast_pages("vane", "gauge")}, tmp_path, store, settings
    )
    question = "How do I read the anemometer speed in Python?"
    return book.retriever.retrieve(question, limit=5).passages[0], answer(book, Question(question))


def test_a_sections_code_is_quoted_when_its_prose_is_chunked_apart_from_it(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    # The listing nearly fills a chunk, so the warning after it, which a question on reading
    # the sensor matches best, is another chunk of the same section.
    line = "pin_0 = board.setup_pin(0)  # an unused header pin"
    lines = (settings.chunk_tokens - 2 * count_tokens(line)) // count_tokens(line)
    listing = "\n".join(line.replace("0", str(n)) for n in range(lines))
    page = (
        "# Anemometer\n\n## Reading the anemometer in Python\n\n"
        f"```python\n{listing}\nspeed = anemometer.read_speed()\n```\n\n"
        "Read the anemometer speed no faster than once a second. "
        "The cups need a full second to turn once in a light wind, so a faster loop reads the "
        "same turn twice and doubles the speed it reports. Slow loops are safe: the counter "
        "keeps every turn until it is read.\n"
    )
    shown, result = anemometer_answer(page, tmp_path, store, settings)
    assert "```" not in shown.text  # the section shown is the warning's chunk
    assert "no faster than once a second" in result.answer
    assert "speed = anemometer.read_speed()" in result.answer
    assert {c.url for c in result.citations} == {shown.url}


def test_only_the_leading_sections_code_is_quoted() -> None:
    lead = passage("Read the anemometer speed no faster than once a second.")
    other = replace(
        passage("The vane reads the wind direction.", "Vane", "https://b.org/p#vane"),
        code=("```python\ndirection = vane.read_direction()\n```",),
    )
    asked = terms("read", "anemometer", "speed", "python", "vane", "direction")
    result = extractive_answer([lead, other], asked, None)
    assert "The vane reads the wind direction. [2]" in result.answer  # its prose, not its code
    assert "read_direction" not in result.answer
    with_code = replace(lead, code=("```python\nspeed = anemometer.read_speed()\n```",))
    assert "read_speed()" in extractive_answer([with_code, other], asked, None).answer


def test_another_sections_code_is_not_quoted_even_under_the_same_anchor(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    # The explicit id of "Calibrating" is the slug of "Reading": two sections, one anchor.
    page = (
        "# Anemometer\n\n## Calibrating {#reading}\n\n"
        "Calibrate the anemometer speed against a reference in a wind tunnel.\n\n"
        "```python\nanemometer.calibrate_speed(factor=1.1)  # writes the calibration\n```\n\n"
        "## Reading\n\nRead the anemometer speed no faster than once a second; a faster loop "
        "doubles the speed it reports.\n"
    )
    shown, result = anemometer_answer(page, tmp_path, store, settings)
    assert shown.section == "Reading"
    assert "no faster than once a second" in result.answer
    assert "calibrate_speed" not in result.answer


def test_a_page_the_book_holds_twice_is_one_result(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    page = "# Rain gauge\n\n## Emptying\n\nThe rain gauge tips its bucket at 0.2 mm of rain.\n"
    pages = {
        "gauge.md": page,
        "gauge-copy.md": page,
        "mast.md": "# Mast\n\nThe mast holds the rain gauge two metres up.\n",
    }
    book = book_of(pages, tmp_path, store, settings)
    found = book.retriever.retrieve("When does the rain gauge tip its bucket?", limit=5)
    pages_found = [p.page_url.rsplit("/", 1)[-1] for p in found.passages]
    assert len(pages_found) == 2 and pages_found[0] in {"gauge", "gauge-copy"}
    assert pages_found[1] == "mast"
    result = answer(book, Question("When does the rain gauge tip its bucket?"))
    assert len([s for s in result.sources if "/gauge" in s]) == 1


@dataclass
class _LinksFirst:
    """A reranker that puts link lists first (0.9) and scores the rest 0.2."""

    service: str = "fake"

    def rerank(self, query: str, documents: Sequence[str], top_n: int) -> list[tuple[int, float]]:
        scores = [(i, 0.9 if "](" in d else 0.2) for i, d in enumerate(documents)]
        return sorted(scores, key=lambda pair: -pair[1])[:top_n]


def test_the_section_shown_is_one_an_answer_can_quote(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    links = "\n".join(f"- [Bucket {p}](./{p}) - the big bucket" for p in ("a", "b", "c"))
    pages = {
        "gauge.md": "# Rain gauge\n\n## Rain gauge sizes and parts\n\n"
        f"{links}\n\n## Emptying\n\nThe rain gauge empties its bucket at 0.2 mm of rain.\n",
        "mast.md": "# Mast\n\nThe mast holds the anemometer two metres up.\n",
    }
    book = book_of(pages, tmp_path, store, settings)
    # The link list holds the question's terms more often, but says nothing to quote.
    found = book.retriever.retrieve("How big is the rain gauge bucket?", limit=5)
    assert found.passages[0].url.endswith("#emptying")
    assert found.runner_up is None  # the link list is not the runner-up either
    result = answer(book, Question("How big is the rain gauge bucket?"))
    assert "empties its bucket at 0.2 mm" in result.answer
    assert not any(s.endswith("#rain-gauge-sizes-and-parts") for s in result.sources)
    # A reranker's order stands but for such a section; the score is the shown section's own.
    reranked = Retriever(store, reranker=_LinksFirst(), min_rerank_score=0.5)
    found = reranked.retrieve("How big is the rain gauge bucket?", limit=5)
    assert found.passages[0].url.endswith("#emptying")
    assert found.passages[0].score == 0.2 and not found.covered
    # Asked for what its heading names, the list is what is shown and quoted.
    asked = book.retriever.retrieve("Which rain gauge parts are listed?", limit=5)
    assert asked.passages[0].url.endswith("#rain-gauge-sizes-and-parts")


@pytest.mark.parametrize(
    ("text", "leads_into", "quotable_"),
    [
        ("- [Rain gauge](./gauge)\n- [Wind vane](./vane)", [], False),
        ("1. **Which sensor reports rain?**\n   a) The vane\n   b) The gauge", [], False),
        ("The kit is built from these parts:", ["Rain gauge", "Wind vane"], True),
        ("```python\nread_gauge()\n```", [], True),
        ("| Part | Mass |\n|---|---|\n| Vane | 40 g |", [], True),
        ("", [], False),
    ],
    ids=["links", "quiz", "leads-into-subsections", "code", "table", "empty"],
)
def test_a_section_is_shown_when_an_answer_can_quote_it(
    text: str, leads_into: list[str], quotable_: bool
) -> None:
    payload = {"title": "Kit", "section": "Parts", "text": text, "leads_into": leads_into}
    assert quotable(Hit("1", 1.0, payload), terms("rain", "gauge")) == quotable_
    # Unless the question names what the heading adds to the page's title.
    assert quotable(Hit("1", 1.0, payload), terms("kit", "parts")) == bool(text)


def test_a_section_marked_as_not_written_yet_is_not_shown() -> None:
    # "TBD Sections": a list of what the author means to add, which the book does not say.
    plans = "- Rain gauge calibration walkthrough\n- Troubleshooting the wind vane"
    for heading, shown_ in (("TBD Sections", False), ("Planned sections", True)):
        payload = {"title": "Kit", "section": f"Sensors › {heading}", "text": plans}
        assert quotable(Hit("1", 1.0, payload), terms("rain", "gauge", "calibration")) == shown_


def test_placeholders_are_not_quoted() -> None:
    text = (
        "- **Lecture videos**: [TBD - rain gauge lecture videos]\n"
        "- **Calibration date**: TBD\n\n"
        "The rain gauge is calibrated by pouring 100 ml of water through its funnel."
    )
    result = extractive_answer([passage(text)], terms("rain", "gauge", "calibration"), None)
    assert "pouring 100 ml of water" in result.answer and "TBD" not in result.answer


def test_a_passage_covers_the_query_as_its_text_does(odd_book: Book) -> None:
    """Coverage is read from each hit's stored BM25 vector; it must equal the text's own."""
    question = "How long does sourdough dough rest before proofing, and who kneads it?"
    found = odd_book.retriever.retrieve(question, limit=5)
    assert len(found.passages) >= 3 and found.passages[0].coverage > 0.3
    for p in found.passages:
        assert p.coverage == pytest.approx(found.terms.coverage(f"{p.title} {p.section}\n{p.text}"))


@pytest.mark.parametrize(
    ("written", "asked"), [("ROS2", "ROS 2"), ("ROS 2", "ROS2")], ids=["joined", "spaced"]
)
def test_a_numbered_name_is_found_however_the_question_spaces_it(
    tmp_path: Path, store: BookStore, settings: Settings, written: str, asked: str
) -> None:
    pages = {
        "nodes.md": f"# Nodes\n\nA {written} node is one process that publishes and subscribes.\n",
        "graphs.md": "# Graphs\n\nA node of a graph is a vertex; each node links to a node.\n",
        **mast_pages("vane", "anemometer", "thermometer"),
    }
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question(f"What is a {asked} node?"))
    assert result.mode != "not_found" and result.sources[0].endswith("/nodes")
    assert "one process that publishes" in result.answer


def test_a_question_naming_c_plus_plus_finds_its_section_and_one_the_book_lacks_is_refused(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "logger.md": (
            "# Logger\n\n## Python logger\n\nThe Python logger reads the sensor once a minute.\n\n"
            "## C++ logger\n\nThe C++ logger reads the sensor once a second.\n"
        ),
        **mast_pages("vane", "anemometer", "thermometer"),
    }
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question("How often does the C++ logger read the sensor?"))
    assert result.sources[0].endswith("/logger#c-logger") and "once a second" in result.answer
    assert answer(book, Question("How often does the C# logger read the sensor?")).mode == (
        "not_found"
    )


def test_a_book_of_one_page_without_headings_answers_from_it(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    text = "Sourdough starter needs flour and water fed daily at room temperature.\n"
    book = book_of({"only.md": text}, tmp_path, store, settings)
    result = answer(book, Question("How often is a sourdough starter fed?"))
    assert "fed daily" in result.answer and result.sources[0].endswith("/only")


def test_a_section_leading_into_its_subsections_is_answered_with_their_headings(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "station.md": "# Weather station\n\n## Siting principles\n\n"
        "A good station site follows three siting principles:\n\n"
        "### Open ground\n\nKeep the mast ten metres from walls.\n\n"
        "### Even height\n\nMount the vane two metres above the grass.\n\n"
        "### Steady power\n\nShade the panel from nothing.\n\n## Wiring\n\nSolder it.\n",
        **mast_pages("logger", "radio", "battery"),
    }
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question("What are the siting principles of a weather station?"))
    assert (
        "A good station site follows three siting principles: Open ground; Even height; "
        "Steady power [1]" in result.answer
    )
    assert result.sources[0].endswith("/station#siting-principles")
    # Stored beside the text, not in it: the page as shown (`/demo`) has no such list.
    siting = next(c for c in store.page_chunks("station.md") if c["section"] == "Siting principles")
    assert siting["leads_into"] == ["Open ground", "Even height", "Steady power"]
    assert "Open ground" not in siting["text"]


def test_a_question_put_to_the_reader_is_not_quoted_as_an_answer() -> None:
    text = "Why does the rain bucket tip so often? The rain bucket tips at every 0.2794 mm."
    result = extractive_answer([passage(text)], terms("rain", "bucket", "tip"), None)
    assert "Why does" not in result.answer and "0.2794 mm. [1]" in result.answer


def test_a_prompt_given_to_the_reader_in_quotation_marks_is_not_quoted_as_an_answer() -> None:
    text = "\n".join(
        [
            "The rain bucket tips at every 0.2794 mm of rain and closes the reed switch.",
            "",
            "**Ask your AI:**",
            "",
            '> "I am building a rain gauge. Explain how the rain bucket tips and why the reed',
            '> switch closes. Then suggest a rain bucket test."',
            "",
            '"Compare the rain bucket with an optical rain sensor for my rain gauge."',
            "",
            '> "The rain bucket is the oldest rain gauge still in service."',
            "> — Royal Meteorological Society",
        ]
    )
    result = extractive_answer([passage(text)], terms("rain", "bucket", "tip"), None)
    body = result.answer.split("\n", 2)[2]
    assert "0.2794 mm" in body and "oldest rain gauge" in body  # someone's words, said whose
    for prompt in ("I am building", "Explain how", "test.", "Compare the rain"):
        assert prompt not in body
    assert teaching.quoted_prompts(['> "Half a quotation', "> with no end", "", '"Closed."']) == {3}
    # A sentence opening and closing with quoted words is no quotation; two prompts a line,
    # and a prompt after the line leading into it, in one paragraph, are.
    sentence = '"Hello" is what the talker prints; run it with "ros2 run demo talker"'
    assert teaching.quoted_prompts([sentence]) == set()
    assert teaching.quoted_prompts(['> "Explain the bucket."', '> "Then test it."']) == {0, 1}
    assert teaching.quoted_prompts(["**Ask your AI:**", '"Why does the gauge tip?"']) == {1}


def test_an_answer_spanning_two_sections_of_the_best_page_quotes_and_cites_both(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "gauge.md": "# Rain gauge\n\n## Emptying the gauge bucket\n\n"
        "Empty the gauge bucket after heavy rain so the tipping arm moves freely.\n\n"
        "## Cleaning the gauge funnel\n\n"
        "Rinse the gauge funnel with water monthly so leaves never block the bucket.\n\n"
        "## Mounting\n\nBolt the gauge to a level post away from trees.\n",
        "wind.md": "# Wind vane\n\nThe vane points into the wind.\n",
    }
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question("How do I empty and clean the rain gauge?"))
    assert "tipping arm moves freely" in result.answer and "Rinse the gauge funnel" in result.answer
    cited = {c.url.rsplit("#", 1)[-1] for c in result.citations}
    assert {"emptying-the-gauge-bucket", "cleaning-the-gauge-funnel"} <= cited
    assert "mounting" not in cited


def test_answer_keys_and_one_line_quiz_items_are_not_quoted() -> None:
    text = "\n".join(
        [
            "The rain gauge reports on pin 4 of the board, once a minute.",
            "1. **Which pin does the rain gauge report on?**",
            "   a) Pin 2",
            "   b) Pin 4",
            "   *Correct Answer: b) Pin 4*",
            "Check the rain gauge wiring. Which pin does the gauge use? a) Pin 2 b) Pin 4 c) Pin 6."
            " The gauge wiring uses a pull-up resistor on the rain gauge pin.",
        ]
    )
    result = extractive_answer([passage(text)], terms("rain", "gauge", "pin"), None)
    body = result.answer.split("\n", 2)[2]
    assert "pin 4 of the board" in body and "pull-up resistor" in body
    for quiz in ("Correct Answer", "a) Pin 2", "Which pin"):
        assert quiz not in body


def test_a_quiz_section_is_quoted_only_when_the_question_asks_for_it() -> None:
    def section(name: str, anchor: str, text: str) -> Passage:
        url = f"https://b.org/p#{anchor}"
        return Passage("p.md", url, "https://b.org/p", "Rain gauge", name, text, 1.0, 1.0)

    quiz = section(
        "Rain gauge quiz",
        "rain-gauge-quiz",
        "1. **How often does the rain gauge report?**\n   a) Hourly\n   b) Every minute",
    )
    prose = section(
        "Reporting", "reporting", "The rain gauge reports every minute over the serial link."
    )
    answered = extractive_answer([quiz, prose], terms("rain", "gauge", "report"), None)
    assert "every minute over the serial link" in answered.answer
    assert "Hourly" not in answered.answer
    assert [c.url for c in answered.citations] == ["https://b.org/p#reporting"]
    asked = extractive_answer([quiz, prose], terms("rain", "gauge", "quiz"), None)
    assert asked.citations[0].url == "https://b.org/p#rain-gauge-quiz"


# Every section is indexed with its page title, so on title terms alone a page's shortest
# section wins; the section shown is picked by the terms the title lacks (the cylinder), and a
# heading that asks what the question asks ("Why it tips") counts as one more of them.
_TEACHING = " ".join(["Pour a known volume of water through the funnel slowly."] * 12)
_TIPS = (
    "Each side fills with 0.2794 mm of rain, then its weight drops it and the other side "
    "rises to fill, so the bucket tips once per 0.2794 mm and counting tips measures rain."
)


@pytest.mark.parametrize(
    ("page", "question", "anchor", "quoted"),
    [
        (
            "# Rain gauge calibration\n\n## In short\n\nRain gauge calibration, briefly.\n\n"
            f"## The procedure\n\n{_TEACHING} Read the level off a measuring cylinder.\n",
            "How is rain gauge calibration checked with a cylinder?",
            "the-procedure",
            "measuring cylinder",
        ),
        (
            "# Rain gauge\n\n## Parts\n\nThe seesaw bucket has two equal sides.\n\n"
            f"## Why it tips\n\n{_TIPS}\n",
            "Why does the bucket design work?",
            "why-it-tips",
            None,  # "design" and "work" are not in this book: retrieval shows it, answers refuse
        ),
    ],
    ids=["terms-the-title-lacks", "heading-asks-why"],
)
def test_the_section_shown_is_the_one_that_answers_not_the_shortest(
    tmp_path: Path,
    store: BookStore,
    settings: Settings,
    page: str,
    question: str,
    anchor: str,
    quoted: str | None,
) -> None:
    others = ("vane", "anemometer", "thermometer", "hygrometer", "barometer")
    book = book_of({"gauge.md": page, **mast_pages(*others)}, tmp_path, store, settings)
    found = book.retriever.retrieve(question, limit=5)
    assert found.passages[0].url.endswith(f"#{anchor}")
    if quoted is not None:
        assert quoted in answer(book, Question(question)).answer


def test_a_paragraph_ending_in_a_colon_is_still_quoted_but_for_its_lead_in() -> None:
    text = (
        "Level the rain gauge first. Pour 100 ml of water into the rain gauge funnel slowly. "
        "If the count is off, correct the factor:\n\n```text\nMM_PER_TIP = 0.2794\nSAVE = 1\n```"
    )
    result = extractive_answer([passage(text)], terms("calibrate", "rain", "gauge"), None)
    assert "Level the rain gauge first." in result.answer
    assert "Pour 100 ml of water" in result.answer
    assert "correct the factor:" not in result.answer  # it introduces the code, quoted alone


VENV_SECTION = (
    "The system Python refuses pip installs, so create a virtual environment for the "
    "station:\n\n```bash\npython3 -m venv ~/station/venv\n~/station/venv/bin/pip install "
    "gpiozero\n```\n\nActivate the virtual environment again in every new terminal. "
    "Serve the station dashboard:\n\n```bash\n~/station/venv/bin/python dashboard.py\n"
    "echo started\n```"
)


def test_a_selection_of_whole_sentences_is_quoted_between_the_ones_around_it() -> None:
    section = passage(
        "The gauge sits on a post. It must be level. A tilted funnel loses rain over its rim. "
        "Check it with a spirit level each spring."
    )
    chosen = "It must be level. A tilted funnel loses rain over its rim."
    selected = replace(section, text=chosen)
    result = extractive_answer([selected, section], terms("level"), chosen)
    assert [c.quote for c in result.citations] == [  # one section's quotes, in its order
        f"The gauge sits on a post. … {chosen} … Check it with a spirit level each spring."
    ]
    assert result.answer.index("sits on a post") < result.answer.index("It must be level")
    assert result.answer.index("tilted funnel loses") < result.answer.index("spirit level")


def test_a_selected_word_is_framed_where_it_first_occurs_as_a_word() -> None:
    section = (
        "Use the compost bin weekly. The gauge sits on a post. It must be level. "
        "Check the post each spring. Replace the battery in autumn."
    )
    assert framed("post", section) == ["The gauge sits on a post.", "It must be level."]
    assert framed("art", "Start the logger. It runs all day.") == []  # no word `art` in it


def test_selected_code_keeps_its_lines_and_their_indents() -> None:
    section = "Call it:\n\n```python\ndef read():\n    value = sensor.read()\n    return value\n```"
    selected = "    value = sensor.read()\n    return value"
    assert shown(selected, section) == "```\nvalue = sensor.read()\nreturn value\n```"
    nested = "def read():\n    value = sensor.read()"
    assert shown(nested, section) == f"```\n{nested}\n```"


def test_a_selection_keeps_its_first_lines_indent_without_the_blank_lines_around(
    settings: Settings,
) -> None:
    asked = ask_question("", "\n\n    x = 1\n    y = 2  \n\u200b\n", None, (), settings)
    assert asked.selected_text == "    x = 1\n    y = 2"


def test_the_best_sentence_leading_into_code_is_quoted_with_its_code() -> None:
    result = extractive_answer([passage(VENV_SECTION)], terms("create", "virtual", "env"), None)
    lead_in = "so create a virtual environment for the station: [1]"
    code = "```bash\npython3 -m venv ~/station/venv\n"
    assert lead_in in result.answer and code in result.answer
    assert result.answer.index(lead_in) < result.answer.index(code)
    assert "Activate the virtual environment again" in result.answer  # what follows, as ever
    assert "dashboard" not in result.answer  # another sentence's code
    assert result.answer.count("```") == 2  # the code is quoted once, not again as the best


def test_code_fenced_with_tildes_is_quoted_as_code() -> None:
    code = "~~~bash\npython3 -m venv env\nenv/bin/pip install gpiozero\n~~~"
    text = f"Create the virtual environment for the station:\n\n{code}"
    result = extractive_answer([passage(text)], terms("create", "virtual", "env"), None)
    assert f"for the station: [1]\n\n{code}\n[1]" in result.answer  # not `~~~ [1]`


def test_a_sentence_leading_into_code_is_no_other_quote() -> None:
    # It answers less well than another sentence: it is not quoted after it, nor its code.
    result = extractive_answer([passage(VENV_SECTION)], terms("activate", "terminal"), None)
    assert "Activate the virtual environment again" in result.answer
    assert "Serve the station dashboard" not in result.answer
    assert "create a virtual environment" not in result.answer
    # Nor on a supporting page, where it would end in a colon with nothing after it.
    other = replace(passage("Any terminal can run the logger."), url="https://b.org/q")
    supported = extractive_answer([other, passage(VENV_SECTION)], terms("create", "virtual"), None)
    assert "create a virtual environment" not in supported.answer


def test_the_best_sentence_is_quoted_with_the_two_it_leads_into() -> None:
    text = (
        "The rain gauge bucket tips when it fills. Each tip adds exactly 0.2794 mm to the total. "
        "A reed switch counts every tip for the logger. Clean the gauge in spring. "
        "Birds sometimes perch on the housing and leave droppings behind."
    )
    result = extractive_answer([passage(text)], terms("rain", "gauge", "bucket"), None)
    assert "0.2794 mm" in result.answer and "reed switch counts" in result.answer
    assert "Birds" not in result.answer


TABBED_INSTALL = """\
# Installing

## Install

<Tabs>
  <TabItem value="mac" label="macOS" default>

Install Homebrew first, then run the installer from a terminal.

  </TabItem>
  <TabItem value="win" label="Windows">

Download the installer from the releases page and double-click it.

  </TabItem>
</Tabs>

The station starts when the install ends.
"""


def test_a_quote_from_a_tab_says_which_tab_it_is_from(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {"install.mdx": TABBED_INSTALL, **mast_pages("vane", "gauge", "logger")}
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question("How do I install it on Windows?"))
    first = result.answer.split("\n\n")[1]
    assert first.startswith("Windows: Download the installer"), result.answer


@pytest.mark.parametrize(
    ("question", "defined"),
    [
        ("What is a rain gauge?", ("rain", "gaug")),
        ("What are tipping buckets?", ("tip", "bucket")),
        ("what's the dew point", ("dew", "point")),
        ("Define I2C", ("i2c", "2")),  # `I2C` is also `2`, as `ROS2` is `ROS 2`
        ("What does RSSI mean?", ("rssi",)),
        ("What does RSSI stand for?", ("rssi",)),
        ("What exactly is a rain gauge?", ("rain", "gaug")),  # an adverb asks the same
        ("What anomaly is detected?", ()),  # a noun, however it ends
        ("What is the best way to mount the gauge on a roof?", ()),  # a clause, not a name
        ("What are the steps of calibrating the gauge?", ()),
        ("How does a rain gauge work?", ()),
    ],
)
def test_a_question_for_what_something_is_names_it(question: str, defined: tuple[str, ...]) -> None:
    assert defined_terms(question) == defined


def test_a_question_of_many_spaces_is_read_in_one_pass() -> None:
    # A pattern with several ways to place the same spaces took minutes on this (and held
    # the whole server while it did).
    assert defined_terms("what is" + " " * 2000 + ",") == ()
    assert defined_terms("What is " + "a " * 990 + "node?") == ()


def test_what_something_is_leads_the_answer() -> None:
    text = (
        "Rain gauges need cleaning every month, as leaves clog a rain gauge funnel.\n\n"
        "A rain gauge is an instrument that measures how much rain falls.\n\n"
        "The tipping bucket rain gauge counts tips of a small seesaw."
    )
    question_terms = QueryTerms(
        weights={"rain": 1.0, "gaug": 1.0},
        in_book=frozenset({"rain", "gaug"}),
        defines=("rain", "gaug"),
    )
    result = extractive_answer([passage(text)], question_terms, None)
    quotes = result.answer.split("\n\n")[1:]
    assert quotes[0].startswith("A rain gauge is an instrument")


def test_the_section_saying_what_something_is_is_the_one_shown(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "gauge.md": "# Rain gauge\n\n## Cleaning the rain gauge\n\n"
        "Clean the rain gauge funnel, the rain gauge bucket and the rain gauge screen.\n\n"
        "## Overview\n\nA rain gauge is an instrument that measures rainfall.\n",
        "other.md": "# Wind\n\nThe vane points into the wind.\n",
    }
    book = book_of(pages, tmp_path, store, settings)
    found = book.retriever.retrieve("What is a rain gauge?", limit=5)
    assert found.passages[0].url.endswith("#overview")
    said = answer(book, Question("What is a rain gauge?")).answer
    assert said.split("\n\n")[1].startswith("A rain gauge is an instrument")


def test_a_short_list_the_question_asks_about_is_quoted_whole() -> None:
    text = (
        "Calibrating the rain gauge takes these steps:\n"
        "1. Level the gauge on its mast.\n2. Pour in 100 ml of water.\n"
        "3. Count the tips of the bucket.\n4. Compare the count with the volume poured.\n\n"
        "The bucket tips at 0.2 mm of rain."
    )
    about_the_list = terms("steps", "calibrating", "rain", "gauge")
    result = extractive_answer([passage(text)], about_the_list, None)
    assert (
        "Calibrating the rain gauge takes these steps: 1. Level the gauge on its mast.; "
        "2. Pour in 100 ml of water.; 3. Count the tips of the bucket.; "
        "4. Compare the count with the volume poured. [1]"
    ) in result.answer


@pytest.mark.parametrize("whole", [True, False])
def test_a_short_list_is_quoted_whole_when_most_of_it_is_quoted(
    monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    monkeypatch.setattr(list_quotes, "MOST_OF_A_LIST", whole)
    text = (
        "Calibrating the rain gauge takes these steps:\n"
        "1. Level the gauge on its mast.\n2. Pour in 100 ml of water.\n"
        "3. Count the tips of the bucket.\n4. Compare the count with the volume poured."
    )
    # The best item and the two after it are three of the four steps: the first is added,
    # so a reader is not left to guess the step the quote leaves out.
    quoted = extractive_answer([passage(text)], terms("pour", "water", "ml"), None).answer
    assert ("Level the gauge on its mast." in quoted) == whole
    assert ("takes these steps: …; 2. Pour in 100 ml of water." in quoted) != whole
    tasks = [
        "Level the gauge",
        "Pour in water",
        "Count the tips",
        "Compare the count",
        "Empty the bucket",
        "Dry the funnel",
        "Close the lid",
        "Log the result",
    ]
    longer = "Calibrating takes these steps:\n" + "\n".join(
        f"{n}. {task}." for n, task in enumerate(tasks, 1)
    )
    part = extractive_answer([passage(longer)], terms("dry", "funnel"), None).answer
    assert "6. Dry the funnel." in part and "Level" not in part  # three of eight: not most
    assert "takes these steps: …; " in part
    # A list holding a question to the reader is not filled in: its items are quoted alone.
    lab = "Before the lab:\n- Run the talker node.\n- Run the listener node.\n- Why is it quiet?"
    ran = extractive_answer([passage(lab)], terms("run", "talker", "listener"), None).answer
    assert "Run the listener node." in ran and "Why is it quiet?" not in ran


def test_lists_are_read_as_the_page_shows_them(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    fence = "   ```bash\n"
    steps = (
        "Set up the logger in four steps:\n\n1. Mount the logger on the mast.\n\n"
        f"2. Install the logger service:\n\n{fence}   sudo apt install rain-logger\n   ```\n\n"
        f"3. Check its log:\n\n{fence}   tail -f rain.log\n   grep tip rain.log\n   ```\n\n"
        "4. Start the logger."
    )
    others = (
        "Never do these:\n\n* Never unplug the logger while it writes.\n"
        "- Keep the logger dry.\n\n```bash\nlogger --status\n```\n\n1. A list of its own."
    )
    pages = {
        "logger.md": f"# Logger\n\n## Setting up the logger\n\n{steps}\n\n{others}\n",
        **mast_pages("radio", "battery", "vane"),
    }
    book = book_of(pages, tmp_path, store, settings)
    text = store.page_chunks("logger.md")[0]["text"]  # as stored: lists written tight
    found = sentence_units.lists(text)
    # A loose list interrupted by code in its items is one list; another bullet, or numbers
    # starting again after code, start another list, with no lead-in of the first.
    assert [(block.lead_in, len(block.items)) for block in found] == [
        ("Set up the logger in four steps:", 4),
        ("Never do these:", 1),
        ("", 1),
        ("", 1),
    ]
    result = answer(book, Question("What are the steps to set up the logger?"))
    assert (
        "Set up the logger in four steps: 1. Mount the logger on the mast.; 2. Install the "
        "logger service: `sudo apt install rain-logger`; 3. Check its log …; "
        "4. Start the logger. [1]"
    ) in result.answer  # step 3 leads into code the quote leaves out: marked


def test_an_item_is_told_from_a_longer_one_it_opens() -> None:
    # "Lidar sensor cable" is the list's last item, not a second "Lidar sensor": nothing of
    # the list is left out after it.
    text = "Pack these parts:\n- Lidar sensor\n- Camera\n- Camera mount\n- Lidar sensor cable\n"
    result = extractive_answer([passage(text)], terms("lidar", "cable", "camera", "mount"), None)
    assert "Pack these parts: …; Camera mount; Lidar sensor cable [1]" in result.answer


def test_a_name_without_its_version_number_is_found_in_the_book(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    pages = {
        "rover.md": "# The Rover\n\nThe TurtleBot3 carries a LiDAR with a range of 3.5 m.\n",
        **mast_pages("radio", "battery", "vane"),
    }
    book = book_of(pages, tmp_path, store, settings)
    result = answer(book, Question("What range does the TurtleBot's LiDAR have?"))
    assert result.mode == "extractive" and "3.5 m" in result.answer  # not an unknown name
    refused = answer(book, Question("What range does the TurtleBot4's LiDAR have?"))
    assert refused.answer == NOT_FOUND  # a version the book never names is still unknown


def test_the_best_sentence_is_followed_by_the_list_it_leads_into_when_that_is_asked_about() -> None:
    text = (
        "A rain gauge reading passes through several stages before it is stored. These "
        "stages are:\n1. **Tipping**: the bucket tips over.\n2. **Counting**: the logger "
        "counts each tip.\n3. **Scaling**: the count becomes millimetres.\n4. **Saving**: "
        "the value goes into the database.\n\nThe logger keeps a week of values."
    )
    asked = terms("stages", "reading", "pass", "rain")
    result = extractive_answer([passage(text)], asked, None)
    assert "These stages are: 1. Tipping: the bucket tips over.; 2. Counting:" in result.answer
    assert "4. Saving: the value goes into the database. [1]" in result.answer  # all of it
    # A question its first item answers better than the lead-in: the two units after it.
    one = extractive_answer([passage(text)], terms("rain", "gauge", "stored", "bucket"), None)
    assert "2. Counting: the logger counts each tip.; … [1]" in one.answer
    # Items that say more are still one quote of the whole list, each item's first sentence.
    longer = text.replace("tips over.", "tips over. It holds two millilitres.").replace(
        "each tip.", "each tip. Each tip closes a switch."
    )
    whole = extractive_answer([passage(longer)], asked, None)
    assert "2. Counting: the logger counts each tip. …; 3. Scaling:" in whole.answer
    assert "Each tip closes" not in whole.answer and whole.answer.count("[1]") == 2


def test_an_item_a_quote_leaves_out_is_marked_even_when_it_is_no_sentence() -> None:
    # The second step only leads into code too long to inline: no unit quotes it, but the
    # quote of the steps around it must still say a step is missing between them.
    text = (
        "Set up the logger like this:\n- Mount the logger on the mast with two screws.\n"
        "- Install the logger service with:\n```bash\nsudo apt update\n"
        "sudo apt install rain-logger\nsudo systemctl enable rain-logger\n```\n"
        "- Calibrate the rain gauge with a measuring jug.\n- Check the anemometer spins.\n"
        "- Wipe the solar panel.\n- Seal the enclosure lid.\n- Label the cables.\n"
        "- Test the radio link.\n- Write down the serial number."
    )
    result = extractive_answer([passage(text)], terms("mount", "mast", "calibrate", "jug"), None)
    assert (
        "Set up the logger like this: Mount the logger on the mast with two screws.; …; "
        "Calibrate the rain gauge with a measuring jug.; Check the anemometer spins.; … [1]"
    ) in result.answer


def test_a_step_goes_on_past_its_code_and_a_question_line_leads_into_nothing(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    steps = (
        "To set up the logger:\n\n1. Clone the firmware:\n   ```bash\n   git clone fw\n"
        "   cd fw\n   ```\n   Then build it with:\n   ```bash\n   make\n   make flash\n   ```\n"
        "2. Mount the logger on the mast.\n3. Start the logger service."
    )
    asked = (
        "**Logging the gauges:**\n\n**How often should it log?**\n\n- Every minute\n- Every hour"
    )
    pages = {
        "logger.md": f"# Logger\n\n## Setting up\n\n{steps}\n\n## Logging\n\n{asked}\n",
        **mast_pages("radio", "battery", "vane"),
    }
    book_of(pages, tmp_path, store, settings)
    setting_up, logging = (chunk["text"] for chunk in store.page_chunks("logger.md"))
    # Step 1's own line after its code goes on with step 1: steps 2 and 3 are not led into
    # by "Then build it with:".
    found = sentence_units.lists(setting_up)
    assert [(b.lead_in, len(b.items)) for b in found] == [("To set up the logger:", 3)]
    assert "To set up the logger: 2. Mount the logger on the mast." in list(
        sentence_units.sentences(setting_up)
    )
    # The question line between leads into the list, as the lists read it: with nothing.
    assert [b.lead_in for b in sentence_units.lists(logging)] == [""]
    assert list(sentence_units.sentences(logging)) == ["- Every minute", "- Every hour"]


def test_a_section_of_links_asked_for_is_quoted_whole() -> None:
    links = "- [Gauge guide](https://a.org/g)\n- [Vane guide](https://a.org/v)\n- [Mast notes](https://a.org/m)"
    asked = terms("further", "reading", "gauge", "vane")
    result = extractive_answer([passage(links, "Further reading")], asked, None).answer
    assert "- Gauge guide\n- Vane guide\n- Mast notes [1]" in result


def test_a_list_without_a_lead_in_is_quoted_whole_line_by_line() -> None:
    steps = "1. Open the enclosure.\n2. Unplug the battery.\n3. Replace the fuse."
    result = extractive_answer(
        [passage(steps, "Replacing the fuse")], terms("replacing", "fuse", "steps"), None
    )
    assert f"{steps} [1]" in result.answer


@pytest.mark.parametrize(
    "sentence",
    [
        "RSSI (Received Signal Strength Indicator) is how loud the radio hears the station.",
        "The Received Signal Strength Indicator (RSSI) is how loud the radio hears it.",
    ],
)
def test_a_name_spelled_out_in_brackets_still_says_what_it_is(sentence: str) -> None:
    assert defines(sentence, defined_terms("What is RSSI?"))
    assert not defines("The RSSI of the station drops in rain.", defined_terms("What is RSSI?"))


@pytest.mark.parametrize(
    "clause",
    [
        "Understanding of when a rain gauge is useful",
        "Knowing whether the rain gauge is level saves a visit.",
        "Ask why a tipping bucket rain gauge is read twice.",
    ],
)
def test_a_clause_about_something_does_not_say_what_it_is(clause: str) -> None:
    # A lab's "Understanding of when X is beneficial" led the answer to "What is X?" over
    # the glossary's definition: the words before "is" held X and ended on it.
    wanted = defined_terms("What is a rain gauge?")
    assert not defines(clause, wanted)
    assert defines("A rain gauge is an instrument that measures rainfall.", wanted)
    assert defines("The meaning of rain gauge is plain: it gauges rain.", wanted)


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("What is a while loop?", "A while loop is a loop that runs while its test holds."),
        ("What is an if statement?", "An if statement is a branch taken when a test holds."),
        ("What are while loops?", "While loops are loops that run until a test fails."),
    ],
)
def test_a_name_that_starts_with_a_subordinator_is_still_defined(
    question: str, sentence: str
) -> None:
    assert defines(sentence, defined_terms(question))


@pytest.mark.parametrize("complement", [True, False])
def test_the_second_quote_answers_the_part_of_the_question_the_best_one_leaves(
    monkeypatch: pytest.MonkeyPatch, complement: bool
) -> None:
    monkeypatch.setattr(extractive, "COMPLEMENT", complement)
    text = (
        "A rain gauge empties its bucket by itself. The rain gauge tips a bucket per 0.2 mm "
        "of rain. The mast stands two metres high. The casing is painted white. "
        "The anemometer spins in the wind."
    )
    question = terms("rain", "gauge", "tips", "bucket", "anemometer")
    result = extractive_answer([passage(text)], question, None)
    assert "The rain gauge tips a bucket per 0.2 mm of rain. [1]" in result.answer
    # Ranked alone, the other rain gauge sentence beats the anemometer's, which answers the
    # part of the question the best sentence leaves.
    assert ("The anemometer spins in the wind. [1]" in result.answer) == complement
    assert ("A rain gauge empties its bucket by itself. [1]" in result.answer) != complement


def test_the_same_text_on_two_pages_is_quoted_once() -> None:
    text = "The rain gauge tips once per 0.2 mm of rain."
    first = passage(text, "Rain gauge", "https://b.org/a#gauge")
    second = passage(text, "Rain gauge", "https://b.org/copy#gauge")
    result = extractive_answer([first, second], terms("rain", "gauge", "tips"), None)
    assert result.answer.count("tips once per 0.2 mm") == 1


def test_a_whole_list_marks_the_items_it_says_only_the_start_of() -> None:
    text = (
        "Sensors on the station:\n- Rain gauge. It tips a bucket for every 0.2 mm.\n"
        "- Anemometer\n   - spins faster as the wind blows harder\n- Wind vane"
    )
    result = extractive_answer([passage(text, "Sensors")], terms("sensors", "station"), None)
    assert "Sensors on the station: Rain gauge. …; Anemometer …; Wind vane [1]" in result.answer


def test_sentences_that_start_alike_are_no_list() -> None:
    text = (
        "Note: the gauge must be level before use.\n\nThe mast stands two metres high.\n\n"
        "Note: the funnel clogs with leaves in autumn."
    )
    result = extractive_answer([passage(text)], terms("funnel", "clogs", "leaves"), None)
    assert "Note: the funnel clogs with leaves in autumn. [1]" in result.answer
    assert "…" not in result.answer


def test_a_sentence_may_open_with_an_abbreviation() -> None:
    text = "E.g. the rain gauge tips once per 0.2 mm of rain. The vane points into the wind."
    result = extractive_answer([passage(text)], terms("rain", "gauge", "tips"), None)
    assert "E.g. the rain gauge tips once per 0.2 mm of rain. [1]" in result.answer


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("a **rain gauge** and a **wind vane**", "a rain gauge and a wind vane"),
        ("Plan with A*, Theta* or D* Lite.", "Plan with A*, Theta* or D* Lite."),
        ("Call `__init__` with `**kwargs`.", "Call `__init__` with `**kwargs`."),
        ("Use **`date.strptime()`** here.", "Use `date.strptime()` here."),
        ("**`a_b`:** one; **`c_d`:** two", "`a_b`: one; `c_d`: two"),
        ("[the gauge](./rain.md) and *its* ~~old~~ pin", "the gauge and its old pin"),
    ],
)
def test_plain_text_takes_off_emphasis_and_nothing_else(markdown: str, plain: str) -> None:
    assert plain_text(markdown) == plain


@pytest.mark.parametrize("beside", [True, False])
def test_a_whole_list_is_followed_by_what_it_leaves_of_the_question(
    monkeypatch: pytest.MonkeyPatch, beside: bool
) -> None:
    monkeypatch.setattr(extractive, "WHOLE_COMPLEMENT", beside)
    text = (
        "1. Mount the mast.\n2. Fit the rain gauge:\n   - Bolt the gauge to the mast arm\n"
        "   - Level its funnel\n   - Set the tip size to 0.2 mm\n3. Fit the wind vane:\n"
        "   - Clamp the vane to the mast top\n   - Point its mark north\n"
        "   - Set the sample rate to 1 Hz\n4. Check both readings."
    )
    both = terms("fit", "rain", "gauge", "wind", "vane")
    result = extractive_answer([passage(text, "Fitting the sensors")], both, None).answer
    assert "Fit the rain gauge: Bolt the gauge to the mast arm; Level its funnel;" in result
    vane = "Fit the wind vane: Clamp the vane to the mast top; Point its mark north; Set the"
    assert (vane in result) == beside  # the other part of the question, its list whole too
    # The vane's list answers most; the gauge's, the rest of the question, comes first in
    # the book and in the answer.
    vane_first = terms("fit", "wind", "vane", "clamp", "rain")
    quoted = extractive_answer([passage(text, "Fitting the sensors")], vane_first, None).answer
    gauge = "Fit the rain gauge: Bolt the gauge"
    assert (gauge in quoted and quoted.index(gauge) < quoted.index(vane)) == beside
    # The rest in the list holding the vane's: its item, not that list again, whole.
    vane_then = terms("fit", "wind", "vane", "check")
    last = extractive_answer([passage(text, "Fitting the sensors")], vane_then, None)
    assert ("\n\n4. Check both readings. [1]" in last.answer) == beside
    assert last.answer.count("Clamp the vane") == 1
    listed = "Sensors on the mast:\n- Rain gauge\n- Wind vane\n\nThe logger reads them hourly."
    asked = terms("sensors", "mast", "logger")
    quoted = extractive_answer([passage(listed, "Sensors")], asked, None).answer
    assert "Sensors on the mast: Rain gauge; Wind vane [1]" in quoted
    assert ("The logger reads them hourly. [1]" in quoted) == beside


@pytest.mark.parametrize("detail", [True, False])
def test_a_whole_list_keeps_the_detail_of_an_item_the_question_asks_about(
    monkeypatch: pytest.MonkeyPatch, detail: bool
) -> None:
    monkeypatch.setattr(list_quotes, "NESTED_DETAIL", detail)
    text = (
        "The station has two gauges:\n"
        "1. **Rain gauge**: Collects the rain.\n   - Reports every 10 minutes\n"
        "   - Sits on the mast\n"
        "2. **Snow gauge**: Weighs the snow. It reports every hour. Its pan is heated."
    )
    question = terms("often", "gauges", "station", "reports")
    result = extractive_answer([passage(text, "Gauges")], question, None)
    if detail:  # each item keeps its sentence that says how often, with … for the rest
        assert (
            "The station has two gauges: 1. Rain gauge: Collects the rain. — Reports every 10 "
            "minutes …; 2. Snow gauge: Weighs the snow. — It reports every hour. … [1]"
        ) in result.answer
    else:
        assert (
            "The station has two gauges: 1. Rain gauge: Collects the rain. …; "
            "2. Snow gauge: Weighs the snow. … [1]"
        ) in result.answer
    # A detail adding nothing the question asks about is left out.
    about_gauges = extractive_answer([passage(text, "Gauges")], terms("gauges", "station"), None)
    assert "—" not in about_gauges.answer


def test_a_table_row_reads_as_a_sentence_naming_its_columns() -> None:
    text = (
        "The station logs these figures:\n\n| Sensor | Reading |\n|:---|---:|\n"
        "| **Rain gauge** | 0.2 mm per tip |\n| [Docs](./docs) | [Manual](./manual) |\n"
        "| Vane \\| mast | 16 points | spare |\n\nThe logger keeps a year of readings."
    )
    units = list(sentence_units.sentences(text))
    assert units == [
        "Sensor: **Rain gauge**; Reading: 0.2 mm per tip",
        "Sensor: Vane | mast; Reading: 16 points; spare",
        "The logger keeps a year of readings.",
    ]  # the header and its rule are no rows; a row of links only is no teaching


@pytest.mark.parametrize("rows", [True, False])
def test_a_fact_in_a_table_is_quoted_as_its_row(
    monkeypatch: pytest.MonkeyPatch, rows: bool
) -> None:
    monkeypatch.setattr(sentence_units, "TABLE_ROWS", rows)
    text = (
        "The station ran for a year on the hill.\n\n| Metric | Result |\n|---|---|\n"
        "| Uptime | 99.5% of hours |\n| Growth | Rain records doubled in a month |\n\n"
        "The results held through winter."
    )
    result = extractive_answer([passage(text, "Results")], terms("growth", "records"), None)
    assert ("Metric: Growth; Result: Rain records doubled in a month [1]" in result.answer) == rows
    assert "Uptime" not in result.answer


def test_a_table_the_question_asks_about_is_quoted_whole() -> None:
    text = (
        "Comparing the gauges:\n\n| Feature | Tipping bucket | Weighing |\n|---|---|---|\n"
        "| Cost | Low | High |\n| Snow | Misses it | Weighs it |"
    )
    about_the_table = terms("compare", "tipping", "bucket", "weighing", "gauges", "snow")
    whole = extractive_answer([passage(text, "Gauges")], about_the_table, None).answer
    assert "| Feature | Tipping bucket | Weighing |" in whole and "| Cost | Low | High |" in whole
    # Its citation number is no cell of its last row: Markdown reads the table to a blank line.
    assert whole.endswith("| Snow | Misses it | Weighs it |\n\n[1]")
    about_a_row = extractive_answer([passage(text, "Gauges")], terms("snow", "misses"), None)
    assert "Feature: Snow; Tipping bucket: Misses it; Weighing: Weighs it [1]" in about_a_row.answer
    assert "| Cost |" not in about_a_row.answer  # its rows, not the table


def test_only_a_pipe_line_over_a_delimiter_row_starts_a_table() -> None:
    text = (
        "| A line that opens with a pipe is prose, dropped as before.\n\n"
        "| Site | Rain |\n|---|---|\n| Hill | 12 mm<br/>in May |\n"
        "| Name | Height |\n| --- | --- |\n| Mast | 2 metres tall |"
    )
    units = list(sentence_units.sentences(text))
    assert units == ["Site: Hill; Rain: 12 mm in May", "Name: Mast; Height: 2 metres tall"]
    assert [t.header for t in sentence_units.tables(text)] == [["Site", "Rain"], ["Name", "Height"]]


def test_a_long_table_or_a_row_two_tables_share_is_quoted_as_its_rows() -> None:
    # One row more than a quote holds, with its header and delimiter rows.
    rows = "".join(f"| Fan {n} | {20 + n} watts |\n" for n in range(list_quotes.EXCERPT_LINES - 1))
    long_table = f"Power of each fan model:\n\n| Fan | Power |\n|---|---|\n{rows}"
    question = terms("power", "fan", "model", "33")
    long_answer = extractive_answer([passage(long_table, "Fans")], question, None).answer
    assert "Fan: Fan 13; Power: 33 watts [1]" in long_answer and "| Fan |" not in long_answer
    shared = (
        "Summer readings:\n\n| Site | Rain |\n|---|---|\n| Hill | none |\n| Valley | 5 mm |\n\n"
        "Winter readings:\n\n| Site | Rain |\n|---|---|\n| Hill | none |\n| Valley | 80 mm |"
    )
    about = terms("winter", "readings", "site", "rain", "hill")
    answered = extractive_answer([passage(shared, "Readings")], about, None).answer
    assert "| Valley | 5 mm |" not in answered and "Site: Hill; Rain: none [1]" in answered
