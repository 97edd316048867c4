"""The knowledge-base review page: unanswered, unsure, not helpful and low-margin questions, and feedback per topic."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console import knowledge
from console.web import KnowledgeReviewer, console_of, page, translator

router = APIRouter()


@router.get("/knowledge")
async def show(request: Request, staff: KnowledgeReviewer) -> Response:
    console = console_of(request)
    async with console.homeward.db.transaction() as session:
        found = await knowledge.review(session, staff, console.now(), console.homeward.services.kb)
    return page(
        request,
        staff,
        "knowledge.html",
        review=found,
        listed=knowledge.LISTED,
        titles=knowledge.titles(console.homeward.services.kb, translator(request, staff).locale),
    )
