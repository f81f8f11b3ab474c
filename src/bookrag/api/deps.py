"""FastAPI dependencies: what a route takes from the app's state (`BookDep`, `SettingsDep`, ...)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bookrag.answering.pipeline import Book
from bookrag.config import Settings
from bookrag.feedback.journal import Journal
from bookrag.feedback.records import CHECK_HEADER
from bookrag.translation.translator import Translator


def _book(request: Request) -> Book:
    book: Book = request.app.state.book
    return book


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _journal(request: Request) -> Journal | None:
    journal: Journal | None = request.app.state.journal
    return journal


def _answer_log(request: Request) -> Journal | None:
    """Where an answer is logged: the answer log, but for a deployment's smoke check."""
    return None if request.headers.get(CHECK_HEADER) else _journal(request)


def _translator(request: Request) -> Translator:
    translator: Translator = request.app.state.translator
    return translator


BookDep = Annotated[Book, Depends(_book)]
SettingsDep = Annotated[Settings, Depends(_settings)]
TranslatorDep = Annotated[Translator, Depends(_translator)]
JournalDep = Annotated[Journal | None, Depends(_journal)]
AnswerLogDep = Annotated[Journal | None, Depends(_answer_log)]
