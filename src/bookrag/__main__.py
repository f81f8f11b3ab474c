"""`python -m bookrag`: the `bookrag` command."""

from bookrag.cli import main

main()
