"""bookrag: ask a Docusaurus book a question and get an answer that cites its sections."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bookrag")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
