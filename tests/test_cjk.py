"""Chinese and Japanese books, written without spaces, are searched, quoted and refused keyless:
their characters are read as overlapping pairs, and their sentences end at `。！？`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookrag.answering.generation import NOT_FOUND
from bookrag.answering.models import Question
from bookrag.answering.pipeline import Book, answer
from bookrag.answering.queries import script
from bookrag.answering.sentences import sentences
from bookrag.answering.terms import defined_terms, defines
from bookrag.book import cjk
from bookrag.book.chunking import SENTENCE_END, count_tokens, leads_in
from bookrag.config import Settings
from bookrag.index import lexical
from bookrag.index.ingest import ingest, site_config
from bookrag.index.site_ingest import page_hash
from bookrag.index.store import BookStore

CJK_DOCS = Path(__file__).resolve().parent / "fixtures" / "cjk-book" / "docs"


def test_a_chinese_run_is_read_as_overlapping_pairs_and_a_lone_character_as_itself() -> None:
    assert lexical.terms("滴灌管") == ["滴灌", "灌管"]
    assert lexical.terms("水") == ["水"]
    assert lexical.terms("水泵和水箱") == ["水泵", "泵和", "和水", "水箱"]


def test_latin_words_beside_chinese_are_read_as_in_english() -> None:
    assert lexical.terms("ROS 2节点") == ["ros", "2", "节点"]
    expected = ["esp32", "esp", "32", "控制", "制器", "器的", "gpio", "引脚"]
    assert lexical.terms("ESP32控制器的GPIO引脚") == expected
    assert lexical.name_terms("接到ESP32的引脚") >= {"esp", "32"}
    assert lexical.terms("C++和C#") == ["c++", "和", "c#"]


def test_japanese_kana_and_kanji_are_read_as_pairs() -> None:
    assert lexical.terms("トマトを収穫") == ["トマ", "マト", "トを", "を収", "収穫"]


def test_spaced_scripts_are_read_as_before() -> None:
    assert lexical.terms("Привет мир") == ["привет", "мир"]
    assert lexical.terms("Running the ROS 2 nodes") == ["run", "ros", "2", "node"]


def test_words_that_ask_are_no_terms_of_a_question() -> None:
    assert lexical.terms("为什么花盆要排水？") == ["花盆", "盆要", "要排", "排水"]
    assert lexical.terms("如何预防白粉病") == ["预防", "防白", "白粉", "粉病"]


def test_a_korean_word_is_read_as_pairs_so_its_stem_holds_without_its_particle() -> None:
    # `로봇은` and `로봇을` were two terms that no `로봇` matched: a question with another
    # particle than the book's found nothing.
    assert lexical.terms("로봇은 충전") == ["로봇", "봇은", "충전"]
    assert set(lexical.terms("로봇을")) & set(lexical.terms("로봇이")) == {"로봇"}
    assert lexical.terms("어떻게 충전합니까") == ["충전", "전합", "합니", "니까"]
    assert lexical.terms("왜곡") == ["왜곡"]  # `왜` asks only as a word of its own


def test_when_is_no_term_of_a_chinese_question() -> None:
    assert lexical.terms("什么时候浇水") == ["浇水"]
    assert lexical.terms("要浇多久") == ["要浇"]


def test_a_japanese_question_is_in_the_script_of_a_japanese_book() -> None:
    # Mostly Hiragana against titles mostly Katakana and Han: it was told the book is written
    # in another script (and a keyed server restated it).
    assert script("レタスの葉っぱはどのくらいもちますか") == script("トマトの収穫 収穫と保存")
    assert script("화분 물주기") != script("收获番茄")


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("什么是白粉病？", ("白粉", "粉病")),
        ("白粉病是什么意思？", ("白粉", "粉病")),
        ("什么是ROS 2节点？", ("ros", "2", "节点")),
        ("トマトとは何ですか？", ("トマ", "マト")),
        ("로봇 청소기란 무엇입니까?", ("로봇", "청소", "소기")),
        ("怎样预防白粉病？", ()),
        ("トマトはいつ収穫しますか？", ()),
    ],
)
def test_a_chinese_japanese_or_korean_question_for_what_something_is_names_it(
    question: str, named: tuple[str, ...]
) -> None:
    assert defined_terms(question) == named


def test_a_chinese_japanese_or_korean_sentence_saying_what_something_is_is_told() -> None:
    # Only English "X is ..." was told: "What is X?" in these languages had no definition
    # to lead its answer.
    mildew = defined_terms("什么是白粉病？")
    assert defines("白粉病是一种真菌病害，叶片上会出现白色粉末。", mildew)
    assert defines("- **白粉病**：一种真菌病害。", mildew)
    assert not defines("预防白粉病要保持通风。", mildew)
    tomato = defined_terms("トマトとは何ですか？")
    assert defines("トマトはナス科の野菜です。", tomato)
    assert not defines("トマトの収穫は朝です。", tomato)
    robot = defined_terms("로봇 청소기란 무엇입니까?")
    assert defines("로봇 청소기는 스스로 바닥을 청소하는 기계입니다.", robot)
    assert not defines("로봇 청소기를 충전하세요.", robot)


def test_what_a_chinese_book_says_something_is_leads_the_answer(
    tmp_path: Path, store: BookStore, settings: Settings
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mildew.md").write_text(
        "# 白粉病\n\n## 防治白粉病\n\n"
        "白粉病多发的季节，白粉病的叶片要剪掉，白粉病的残叶不要堆肥。\n\n"
        "## 认识\n\n白粉病是一种真菌病害，叶片上会出现白色粉末。\n"
    )
    (docs / "soil.md").write_text("# 土壤\n\n土壤要疏松，花盆要有排水孔。\n")
    ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
    result = answer(Book.open(store, settings), Question("什么是白粉病？"))
    assert result.answer.split("\n\n")[1].startswith("白粉病是一种真菌病害")
    assert result.sources[0] == "/docs/mildew#认识"


def test_sentences_end_at_full_width_marks_without_a_space() -> None:
    line = "花盆要深。积水会烂根！为什么？“好。”然后浇水。"
    assert SENTENCE_END.split(line) == [
        "花盆要深。",
        "积水会烂根！",
        "为什么？",
        "“好。”",
        "然后浇水。",
    ]
    assert SENTENCE_END.split("トマトは赤い。レタスは緑です。") == [
        "トマトは赤い。",
        "レタスは緑です。",
    ]
    assert SENTENCE_END.split("See Fig. 3 for it. Then go.") == ["See Fig. 3 for it.", "Then go."]


def test_a_chinese_paragraph_is_quoted_sentence_by_sentence() -> None:
    text = "电容式传感器更耐用，因为电极不接触土壤。读数越低，土壤越湿。"
    assert list(sentences(text)) == [
        "电容式传感器更耐用，因为电极不接触土壤。",
        "读数越低，土壤越湿。",
    ]


def test_chinese_counts_a_token_per_character_and_leads_in_with_a_full_width_colon() -> None:
    assert count_tokens("水泵接到引脚。") == 7
    assert count_tokens("Wire the pump.") == 4
    assert leads_in("推荐的配方是：") and leads_in("**步骤：**")


@pytest.fixture
def cjk_book(tmp_path: Path, store: BookStore, settings: Settings) -> Book:
    ingest(store, CJK_DOCS, site_config(CJK_DOCS, None, None), settings.chunk_tokens)
    return Book.open(store, settings)


def test_a_chinese_question_is_answered_from_its_page_and_section(cjk_book: Book) -> None:
    result = answer(cjk_book, Question("种番茄的花盆要多深？"))
    assert "三十厘米" in result.answer
    assert result.sources[0] == "/docs/soil#选择花盆"
    pump = answer(cjk_book, Question("水泵接在ESP32的哪个引脚？"))
    assert "GPIO 26" in pump.answer and pump.sources[0] == "/docs/watering#水泵与滴灌管"


def test_a_japanese_question_is_answered_from_its_page(cjk_book: Book) -> None:
    result = answer(cjk_book, Question("トマトはいつ収穫しますか？"))
    assert "赤くなってから" in result.answer
    assert result.sources[0] == "/docs/harvest#トマトの収穫"


def test_a_japanese_question_in_everyday_grammar_is_answered(cjk_book: Book) -> None:
    # Its Hiragana pairs (`っぱ`, `くら`, `もち`) are not the book's, and made the floor refuse.
    result = answer(cjk_book, Question("レタスの葉っぱはどのくらいもちますか？"))
    assert not result.answer.startswith(NOT_FOUND)
    assert result.sources[0].startswith("/docs/harvest#")


def test_a_korean_question_with_other_particles_than_the_book_is_answered(
    cjk_book: Book,
) -> None:
    result = answer(cjk_book, Question("물은 언제 주는 것이 좋습니까?"))
    assert "아침 일찍" in result.answer
    assert result.sources[0] == "/docs/watering-ko#물주는-시간"
    unknown = answer(cjk_book, Question("자동차 엔진 오일은 어떻게 교체합니까?"))
    assert unknown.answer.startswith(NOT_FOUND) and unknown.sources == []


def test_the_floor_answers_what_a_chinese_book_says_and_refuses_what_it_does_not(
    cjk_book: Book,
) -> None:
    covered = answer(cjk_book, Question("如何预防白粉病？"))
    assert "保持植株之间的距离" in covered.answer
    assert covered.sources[0] == "/docs/pests#白粉病"
    for question in ("如何给汽车更换机油？", "怎样用面包机烤全麦面包？"):
        result = answer(cjk_book, Question(question))
        assert result.answer == NOT_FOUND and result.sources == []


def test_an_english_sample_book_answer_is_unchanged(
    indexed_store: BookStore, settings: Settings
) -> None:
    result = answer(
        Book.open(indexed_store, settings), Question("How do I wire the BME280 sensor?")
    )
    assert result.answer == (
        "From the book (quoted passages; no language model is configured):\n\n"
        "I2C uses one data line (SDA) and one clock line (SCL), plus power and ground. [1]\n\n"
        "Several devices can share the same two lines because every device has its own 7-bit "
        "address, written in hexadecimal such as `0x76`. [1]\n\n"
        "The Pi is the controller: it starts every conversation by sending the address of the "
        "device it wants to talk to. [1]\n\n"
        "On the Raspberry Pi the bus exposed on the GPIO header is bus 1, and it runs at 100 kHz "
        "by default. [1]\n\n"
        "The BME280 talks to the Raspberry Pi over I2C, a two-wire bus designed for connecting "
        "chips that sit close together. [2]\n\n"
        "Do not read the BME280 more often than once per second. [3]"
    )
    assert result.sources[0].endswith("/sensors/wiring/i2c-wiring#how-the-i2c-bus-works")


def test_a_new_reading_of_chinese_changes_the_fingerprint_of_site_pages_that_hold_some(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, chinese, english = "https://garden.example.org/docs/soil", "土壤要疏松", "Loose soil"
    before = [page_hash(url, title, None, []) for title in (chinese, english)]
    monkeypatch.setattr(cjk, "READING", "cjk-next")
    after = [page_hash(url, title, None, []) for title in (chinese, english)]
    assert after[0] != before[0] and after[1] == before[1]
