"""Two caseworkers on one conversation: an action sent from a page that no longer shows who has the conversation
(another caseworker took it over or handed it back meanwhile) is refused with a message saying so, and changes
nothing; the same action from a page that saw the present owner goes through. The page's live update carries the
actions and the reply box as they now are."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import select

from bot.app import Homeward
from console.conversations import REASONS
from console.web import create_console
from db.models import Conversation, Message
from tests.console_support import BASE, add_staff, client, csrf, person_with_transcript, shown, sign_in

SEEN = re.compile(r'name="seen" value="([^"]*)"')


async def _mode(app: Homeward, cid: int) -> tuple[str, int | None]:
    async with app.db.sessions() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        return conversation.mode, conversation.assignee_id


async def test_actions_from_a_page_that_saw_another_owner_are_refused(homeward: Homeward) -> None:
    cid = await person_with_transcript(homeward, municipality="prishtine", texts=["Përshëndetje"])
    await add_staff(homeward, "amra", "caseworker")
    await add_staff(homeward, "besa", "caseworker")
    async with client(homeward) as a, client(homeward) as b:
        await sign_in(a, "amra")
        await sign_in(b, "besa")
        token_a, token_b = await csrf(a), await csrf(b)
        # Amra's page shows the conversation with the bot; she takes it over.
        page = await a.get(f"/conversations/{cid}")
        seen_by_a = SEEN.search(page.text)
        assert seen_by_a is not None and seen_by_a.group(1) == "bot"
        await a.post(f"/conversations/{cid}/take", data={"csrf": token_a, "seen": "bot"})
        mode, amra = await _mode(homeward, cid)
        assert mode == "human" and amra is not None
        page = await a.get(f"/conversations/{cid}")
        assert 'id="reply-text"' in page.text and 'id="return-to-bot"' in page.text

        # Besa's page was opened while the bot had it: her "take over" comes too late, and is refused.
        answer = await b.post(f"/conversations/{cid}/take", data={"csrf": token_b, "seen": "bot"})
        assert answer.status_code == 303 and answer.headers["location"].endswith("?error=changed")
        refused = await b.get(answer.headers["location"])
        assert shown(homeward, REASONS["changed"]) in refused.text
        assert await _mode(homeward, cid) == ("human", amra)
        # Looked at again, her page shows Amra as the owner; from it, the take-over goes through.
        seen_by_b = SEEN.search(refused.text)
        assert seen_by_b is not None and seen_by_b.group(1) == f"human-{amra}"
        assert 'id="reply-text"' not in refused.text and 'id="reply-hint"' in refused.text
        await b.post(f"/conversations/{cid}/take", data={"csrf": token_b, "seen": seen_by_b.group(1)})
        mode, besa = await _mode(homeward, cid)
        assert mode == "human" and besa not in (None, amra)

        # Amra's open page still shows her own reply box and "return to the bot": neither acts any more.
        answer = await a.post(f"/conversations/{cid}/reply", data={"csrf": token_a, "text": "Po ju shkruaj."})
        assert answer.headers["location"].endswith("?error=taken")
        assert shown(homeward, REASONS["taken"]) in (await a.get(answer.headers["location"])).text
        answer = await a.post(f"/conversations/{cid}/return", data={"csrf": token_a, "seen": f"human-{amra}"})
        assert answer.headers["location"].endswith("?error=changed")
        answer = await a.post(f"/conversations/{cid}/close", data={"csrf": token_a, "seen": f"human-{amra}"})
        assert answer.headers["location"].endswith("?error=changed")
        assert await _mode(homeward, cid) == ("human", besa)
        async with homeward.db.sessions() as session:
            sent = (await session.execute(select(Message.text).where(Message.direction == "out"))).scalars().all()
        assert "Po ju shkruaj." not in sent

        # The live update of Amra's page brings the actions and the reply box as they now are for her.
        live = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_console(homeward, stream_seconds=0.2)), base_url=BASE
        )
        async with live:
            await sign_in(live, "amra")
            stream = await live.get(f"/conversations/{cid}/events", params={"after": 10**9, "state": "old"})
        state = next(
            json.loads(line.removeprefix("data: "))
            for block in stream.text.split("\n\n")
            if block.startswith("event: state")
            for line in block.splitlines()
            if line.startswith("data: ")
        )
        assert state["owner"] == f"human-{besa}"
        assert 'id="take-over"' in state["actions"] and f'value="human-{besa}"' in state["actions"]
        assert 'id="reply-text"' not in state["reply"] and 'id="reply-hint"' in state["reply"]
        taken = shown(homeward, "{name} has taken over the conversation. To reply, take it over yourself.", name="besa")
        assert taken in state["reply"]

        # Besa hands it back from her page, which is up to date.
        answer = await b.post(f"/conversations/{cid}/return", data={"csrf": token_b, "seen": f"human-{besa}"})
        assert "error" not in answer.headers["location"]
        assert (await _mode(homeward, cid))[0] == "bot"
