"""What of a reader's own words may be kept when their questions are not: `redact` takes out
what could name a person or open an account before a question's terms or a comment is stored.

Taken out: an e-mail address; the user and password of a URL (`https://user:pw@host`); a run
of 7 digits or more, with spaces, dots, dashes or brackets between them (phone, card and
account numbers); and a word that looks like a secret: a run of letters, digits and
`_ - + / = .` with a part (between those signs) that mixes letters and digits and is 9
characters or longer (`hunter2secret`, the body of `sk-…`, `ghp_…` and cloud keys), or is 16
hexadecimal digits or more. Names with a number up to 8 characters stay (`ros2`, `bme280`,
`llama3`, `gpt-4o`, `esp32`, `x86_64`). A secret made of letters alone is not recognised.
Nothing taken out is logged.
"""

from __future__ import annotations

import re

MARKER = "[removed]"

_URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/?#@]+@")
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_DIGIT_RUN = re.compile(r"(?<![\w.])\+?\d(?:[ .()\-]{0,2}\d){6,}(?!\w)")
_WORD = re.compile(r"[A-Za-z0-9_+/=\-]+(?:\.[A-Za-z0-9_+/=\-]+)*")  # a JWT is one word
_SEPARATORS = re.compile(r"[_+/=.\-]+")
_HEX = re.compile(r"[0-9A-Fa-f]{16,}")
LONGEST_NAME = 8  # characters of a part mixing letters and digits that is still a name


def redact(text: str, marker: str = MARKER) -> str:
    """`text` with e-mail addresses, URL credentials, long digit runs and secret-looking
    words replaced by `marker`."""
    text = _URL_CREDENTIALS.sub(lambda _: f"{marker}@", text)
    text = _EMAIL.sub(marker, text)
    text = _WORD.sub(lambda m: marker if _secret(m.group()) else m.group(), text)
    return _DIGIT_RUN.sub(marker, text)


def _secret(word: str) -> bool:
    return any(
        _HEX.fullmatch(part)
        or (
            len(part) > LONGEST_NAME
            and any(c.isdigit() for c in part)
            and any(c.isalpha() for c in part)
        )
        for part in _SEPARATORS.split(word)
    )
