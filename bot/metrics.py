"""Operations endpoints: `/healthz` (is the database reachable) and `/metrics` (Prometheus text format).

`/metrics` is served only to the configured networks (`HOMEWARD_METRICS_ALLOW`, loopback by
default) or to a scraper that presents the configured bearer token (`HOMEWARD_METRICS_TOKEN`);
anyone else gets 403, since queue depths and failure counts tell an outsider how the service is used.
"""

from __future__ import annotations

import hmac
import ipaddress
import statistics
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from db.models import InboxUpdate, OutboxItem

if TYPE_CHECKING:
    from bot.app import Homeward

LANES = {0: "reply", 1: "caseworker", 2: "followup", 3: "announcement"}


async def render(app: Homeward) -> str:
    """The process's counters and the shared queues, in Prometheus' text exposition format."""
    async with app.db.sessions() as session:
        by_lane = dict(
            (
                await session.execute(
                    select(OutboxItem.lane, func.count())
                    .where(OutboxItem.status.in_(("pending", "sending")))
                    .group_by(OutboxItem.lane)
                )
            ).all()
        )
        failed = (
            await session.execute(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "failed"))
        ).scalar_one()
        inbox = dict(
            (
                await session.execute(
                    select(InboxUpdate.status, func.count())
                    .where(InboxUpdate.status.in_(("pending", "quarantine")))
                    .group_by(InboxUpdate.status)
                )
            ).all()
        )
        in_part = (
            await session.execute(
                select(func.count())
                .select_from(InboxUpdate)
                .where(InboxUpdate.status == "done", InboxUpdate.error.is_not(None))
            )
        ).scalar_one()
    delivery, turns = app.delivery, sorted(app.engine.turn_seconds)
    lines = [
        "# HELP homeward_outbox_queue Messages waiting to be sent, per lane.",
        "# TYPE homeward_outbox_queue gauge",
        *(f'homeward_outbox_queue{{lane="{name}"}} {by_lane.get(lane, 0)}' for lane, name in LANES.items()),
        "# HELP homeward_outbox_failed Messages that could not be delivered (reason kept on the row).",
        "# TYPE homeward_outbox_failed gauge",
        f"homeward_outbox_failed {failed}",
        "# HELP homeward_inbox_pending Stored updates whose turn has not run yet.",
        "# TYPE homeward_inbox_pending gauge",
        f"homeward_inbox_pending {inbox.get('pending', 0)}",
        "# HELP homeward_inbox_quarantined Stored updates set aside after their turn failed repeatedly.",
        "# TYPE homeward_inbox_quarantined gauge",
        f"homeward_inbox_quarantined {inbox.get('quarantine', 0)}",
        "# HELP homeward_inbox_read_in_part Stored updates answered although part of them could not be read.",
        "# TYPE homeward_inbox_read_in_part gauge",
        f"homeward_inbox_read_in_part {in_part}",
        "# HELP homeward_sends_total Messages delivered by this process.",
        "# TYPE homeward_sends_total counter",
        f"homeward_sends_total {delivery.sent}",
        "# HELP homeward_send_failures_total Messages given up by this process.",
        "# TYPE homeward_send_failures_total counter",
        f"homeward_send_failures_total {delivery.failed}",
        "# HELP homeward_throttled_total 429 answers (retry_after) received by this process.",
        "# TYPE homeward_throttled_total counter",
        f"homeward_throttled_total {delivery.throttled}",
        "# HELP homeward_turn_seconds Time of recent turns (inbound stored to replies queued).",
        "# TYPE homeward_turn_seconds summary",
    ]
    if turns:
        lines += [
            f'homeward_turn_seconds{{quantile="0.5"}} {statistics.median(turns):.6f}',
            f'homeward_turn_seconds{{quantile="0.99"}} {turns[min(len(turns) - 1, int(len(turns) * 0.99))]:.6f}',
        ]
    lines += [f"homeward_turn_seconds_count {len(turns)}", f"homeward_turn_seconds_sum {sum(turns):.6f}", ""]
    return "\n".join(lines)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def may_read_metrics(request: Request, networks: list[Network], token: str | None) -> bool:
    """From an allowed network, or with the bearer token (compared in constant time)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def routes(app: Homeward) -> list[Route]:
    networks = app.settings.metrics_networks()
    token = app.settings.metrics_token

    async def healthz(request: Request) -> Response:
        try:
            async with app.db.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        if not may_read_metrics(request, networks, token):
            return PlainTextResponse("Forbidden", status_code=403)
        return PlainTextResponse(await render(app), media_type="text/plain; version=0.0.4")

    return [Route("/healthz", healthz), Route("/metrics", metrics)]
