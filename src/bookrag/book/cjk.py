"""Chinese and Japanese text, written without spaces between words: which characters are
its (Han ideographs, Hiragana, Katakana), how long a run of them reads, and where its
sentences end (at `。！？` with no space after). Korean writes spaces between words, but each
word carries its particles. The index reads a run of these characters, and a Korean word, as
overlapping pairs (`lexical`), as Lucene's CJK analyzer does.
"""

from __future__ import annotations

import re

# Han ideographs (with `々〆〇` and the extensions), Hiragana, Katakana (not its middle dot
# `・`, which parts words) and half-width Katakana: a character class's ranges.
CHARACTERS = (
    "\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff"
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
# Three tests, for three uses: `RUN`, the unspaced scripts, counts words and tokens and ends
# sentences; `PAIRED_RUN`, those and Hangul, is what the index reads as pairs; `has_cjk`,
# those and the full-width marks, is what a page's fingerprint marks.
RUN = re.compile(f"[{CHARACTERS}]+")
# Korean's Hangul syllables are written with spaces between words, but a word carries its
# particles and endings (`로봇은`, `로봇을`, `로봇이`): the index reads a word of them as pairs
# too, so that `로봇` is in each. Its sentences and word counts are those of spaced text.
HANGUL = "\uac00-\ud7a3"
PAIRED_RUN = re.compile(f"[{CHARACTERS}{HANGUL}]+")  # what the index reads as pairs
HIRAGANA = "\u3041-\u309f"  # Japanese particles and endings are written in it
KANA_ONLY = re.compile(f"[{HIRAGANA}]+")
# Bump when such text is read otherwise: only the pages that hold some are redone (their
# fingerprint holds it, from a docs folder or a site; others keep theirs, and their points).
READING = "cjk-2"
# What a page holds that is read otherwise than before these characters were (its marks too).
_HELD = re.compile(f"[{CHARACTERS}{HANGUL}。！？｡：]")
# Closing quotes and brackets that stay with the sentence they end (`“好。”`).
_CLOSERS = "」』”’）)】"
# A sentence ends after `。！？` (or `!?` before such a character), its closing quote with it,
# where more follows; not before emphasis (`**完成。**` may close it).
SENTENCE_END = (
    rf"(?:(?<=[。！？｡])|(?<=[。！？｡][{_CLOSERS}]))\s*(?=[^\s*_{_CLOSERS}。！？｡])"
    rf"|(?<=[!?])(?=[{CHARACTERS}])"
)


def has_cjk(text: str) -> bool:
    """Whether `text` holds a Chinese, Japanese or Korean character or a full-width mark
    (`。！？：`)."""
    return _HELD.search(text) is not None


# What asks rather than names (as `how`, `what` and `which` are stop words): a run is read
# without them, cut where they were. Words that also sit inside others (Japanese `どう` in
# `ぶどう`, `何` in `幾何`) are left in.
_ASKING = re.compile(
    "为什么|為什麼|怎么样|怎麼樣|什么时候|什麼時候|什么|什麼|怎么|怎麼|怎样|怎樣|如何|哪个|哪個|哪些"
    "|哪里|哪裡|多少|多久|是否|[吗嗎呢](?=$)|でしょうか|ですか|ますか|どうやって|どのように|どうして|なぜ"
)
# Korean's, a word of their own (a syllable of them may sit inside another word: `왜곡`).
_ASKING_WORDS = frozenset("얼마나 어떻게 무엇 무슨 언제 어디 왜 누가 누구 몇".split())


def pieces(run: str) -> list[str]:
    """A run of these characters without the words that ask (`_ASKING`, `_ASKING_WORDS`),
    cut where they were: what of it names something."""
    if run in _ASKING_WORDS:
        return []
    return [piece for piece in _ASKING.split(run) if piece]


def bigrams(run: str) -> list[str]:
    """A run of these characters as its overlapping pairs (`气象站`: `气象`, `象站`), a lone
    character as itself: words are not marked, and a pair holds most of them."""
    return [run[i : i + 2] for i in range(len(run) - 1)] or [run]


def word_count(text: str) -> int:
    """The words of `text`: those between spaces, with a run of Chinese or Japanese
    characters counting one per two of them (a Chinese word is one or two characters)."""
    if RUN.search(text) is None:
        return len(text.split())
    runs = RUN.findall(text)
    return len(RUN.sub(" ", text).split()) + sum((len(r) + 1) // 2 for r in runs)


# "What is X?" as Chinese (什么是X, X是什么, X是什么意思, X指的是什么), Japanese (Xとは何ですか,
# Xって何, Xとは) and Korean (X란 무엇입니까, X는 무엇인가요) ask it, its `？` taken off.
_ASKS_MEANING = re.compile(
    r"^(?:什么是|什麼是|何为|何謂)(?P<a>.+)$"
    r"|^(?P<b>.+?)(?:是什么|是什麼|指的是什么|指的是什麼|指什么|指什麼)(?:意思)?[呢呀]?$"
    r"|^(?P<c>.+?)(?:とは|って)(?:何|なに|なん)?(?:ですか|でしょうか)?$"
    r"|^(?P<d>.+?)(?:이란|란|은|는|이|가)\s*(?:무엇|뭐)(?:입니까|인가요|이에요|예요|일까요)?$"
)
# Where a sentence opens by saying what its subject is: Chinese `X是...`, `X指...`, `X：...`,
# Japanese `Xとは...`, `Xは...`, Korean `X란 ...`, `X는 ...` (the subject within its first
# characters, no clause mark before it).
_SAYS_WHAT = re.compile(
    r"^(?P<s>[^，,。；;！？!?\n]{1,30}?)"
    rf"(?:就是|是指|是|指|：|とは|(?<=[^{HIRAGANA}\s])は|(?:이란|란|은|는)(?=\s))"
)


def asked_meaning(question: str) -> str:
    """What a Chinese, Japanese or Korean question asks the meaning of (`什么是白粉病？`:
    `白粉病`), or ""."""
    found = _ASKS_MEANING.match(question.strip().rstrip("？?。 "))
    return next((named.strip() for named in found.groups() if named), "") if found else ""


def defining_subject(sentence: str) -> str | None:
    """The subject of a Chinese, Japanese or Korean sentence that opens by saying what it is
    (`白粉病是一种真菌病害`: `白粉病`), or None."""
    found = _SAYS_WHAT.match(sentence.strip().lstrip("-*+0123456789.) "))
    return found.group("s").strip("*_ ") if found else None
