"""What a person's browser loads: the chat widget script and the demo page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
