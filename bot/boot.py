"""Starting a long-running process: sending first, then everything else.

`homeward serve`, `bot` and `worker` start here. After the migrations, the sending half
(`bot.outgoing`: database, senders, delivery) is built and delivering before the rest of
Homeward is imported: the engine, handlers, knowledge base, forms, console and web server are
most of a start's time. A process restarted after a crash (kill -9, a lost machine) thus sends
the replies it had answered but not sent (its claims returned at once, `bot.workers`) while that
loads. The rest is imported once those are out, or after `WAIT_SECONDS` at most: importing holds
the event loop, and a large backlog goes on once it is done.
"""

from __future__ import annotations

import asyncio

from bot.clock import Clock
from bot.config import Settings
from bot.outgoing import Outgoing
from db.migrate import upgrade_async

WAIT_SECONDS = 3.0


async def run(
    settings: Settings, stop: asyncio.Event, *, console: bool, webhook: bool = False, intake: bool = True
) -> None:
    """Run until `stop` is set: migrations, delivery, then intake and the web server (`bot.server.serve`)."""
    await upgrade_async(settings.database_url)
    outgoing = Outgoing(settings, Clock())
    outgoing.start()
    try:
        await outgoing.delivery.caught_up(WAIT_SECONDS)
        from bot.server import serve  # the rest of Homeward

        await serve(settings, stop, console=console, webhook=webhook, intake=intake, outgoing=outgoing)
    except BaseException:
        if not outgoing.stop_event.is_set():  # Homeward did not get as far as stopping it
            outgoing.stop_event.set()
            await asyncio.gather(outgoing.start(), return_exceptions=True)
            await outgoing.close()
        raise
