"""Reports: conversations, hand-offs and response times per period, as a page, CSV, and SVG and PNG charts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image, ImageColor
from sqlalchemy import select

from bot.app import Homeward
from bot.clock import FixedClock
from console import reports
from console.web import create_console
from db.models import AuditEntry, Beneficiary, Conversation, Handoff
from handlers.handoff import OfficeHours
from tests.console_support import add_staff, client, csrf, sign_in
from tests.fakebot import FakeBotApi, Person
from tests.steps import onboard

KOSOVO = ZoneInfo("Europe/Belgrade")
HOURS = OfficeHours.parse("1-5", "08:00-16:00", "Europe/Belgrade")


@pytest.fixture
def start_at() -> datetime:
    return datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # Monday 09:30 in Prishtina


def test_office_time_counts_only_the_hours_caseworkers_work() -> None:
    friday_three = datetime(2026, 3, 6, 15, 0, tzinfo=KOSOVO)
    monday_nine = datetime(2026, 3, 9, 9, 0, tzinfo=KOSOVO)
    assert reports.office_seconds(friday_three, monday_nine, HOURS) == 2 * 3600  # an hour on Friday, one on Monday
    assert reports.office_seconds(monday_nine, friday_three, HOURS) == 0
    night = datetime(2026, 3, 9, 20, 0, tzinfo=KOSOVO)
    assert reports.office_seconds(night, night + timedelta(hours=10), HOURS) == 0  # 20:00 to 06:00


def test_periods_are_kosovo_weeks_and_months() -> None:
    span = reports.parse_range("2026-03-01", "2026-03-31", "week", date(2026, 4, 1), KOSOVO)
    assert span.periods()[:2] == [date(2026, 2, 23), date(2026, 3, 2)]  # weeks start on Monday
    late_sunday = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already Monday 2 March in Prishtina
    assert span.period_of(late_sunday) == date(2026, 3, 2)
    months = reports.parse_range("2026-03-31", "2026-01-15", "month", date(2026, 4, 1), KOSOVO)
    assert months.periods() == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]  # swapped into order
    assert reports.parse_range("", "", "fortnight", date(2026, 4, 1), KOSOVO).every == "week"


def _bars(png: bytes) -> list[tuple[int, int]]:
    """The bars of a PNG chart: (left edge, height in pixels) of each run of columns in the bar colour."""
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    pixels = image.convert("RGB")
    colour = ImageColor.getrgb(reports.BAR_COLOUR)
    width, height = pixels.size
    heights = [sum(1 for y in range(height) if pixels.getpixel((x, y)) == colour) for x in range(width)]
    bars: list[tuple[int, int]] = []
    for x, h in enumerate(heights):
        if h and (x == 0 or not heights[x - 1]):
            bars.append((x, h))
    return bars


def test_the_png_chart_is_an_image_of_the_same_bars_as_the_svg() -> None:
    labels, values = ["2.3.", "9.3.", "16.3.", "23.3."], [2, 4, None, 8]
    png = reports.chart_png("Предаје · Kalime", "2.3.2026 – 29.3.2026", labels, values)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1440, 680))  # 7.2 × 3.4 inches at 200 dpi, for Word
    assert round(image.info["dpi"][0]) == reports.PNG_DPI
    bars = _bars(png)
    svg = reports.chart_svg("Предаје · Kalime", "2.3.2026 – 29.3.2026", labels, values)
    svg_bars = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"', svg)]
    assert len(bars) == len(svg_bars) == 3  # the empty week has no bar in either
    # Heights grow with the values as in the SVG (the axis line covers the same foot of every bar): to a pixel.
    per_unit = (bars[2][1] - bars[0][1]) / (8 - 2)
    foot = 2 * per_unit - bars[0][1]
    assert (
        per_unit > 40
        and [abs(per_unit * v - foot - h) <= 1 for (_, h), v in zip(bars, [2, 4, 8], strict=True)] == [True] * 3
    )
    assert [h / svg_bars[-1] for h in svg_bars] == [0.25, 0.5, 1.0]
    # In order, left to right, with the gap of the empty week between the second and the third.
    step = bars[1][0] - bars[0][0]
    assert abs(bars[2][0] - bars[1][0] - 2 * step) <= 2


async def test_a_hand_off_answered_and_resolved_shows_in_the_report_csv_and_chart(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    person = Person(fake, 9501, "Arta", language_code="sq")
    sent = await onboard(fake, person, "sq")
    person.says("/human")
    await fake.wait_sent(sent + 1, person.id)
    await app.turns.wait_idle()
    await add_staff(app, "amra", "caseworker")
    await add_staff(app, "mira", "viewer")
    async with app.db.sessions() as session:
        cid = (await session.execute(select(Conversation.id))).scalar_one()
    async with client(app) as http:
        await sign_in(http, "amra")
        assert (await http.get("/reports")).status_code == 403  # caseworkers see cases, not figures
        token = await csrf(http)
        clock.advance(timedelta(minutes=30))
        await http.post(f"/conversations/{cid}/take", data={"csrf": token})
        await http.post(f"/conversations/{cid}/reply", data={"csrf": token, "text": "Mirëdita, jam Amra."})
        clock.advance(timedelta(hours=2))
    async with client(app) as http:  # a new sign-in: the first one has been idle too long by now
        await sign_in(http, "amra")
        await http.post(f"/conversations/{cid}/return", data={"csrf": await csrf(http)})
    async with app.db.sessions() as session:
        wait = (await session.execute(select(Handoff))).scalar_one()
    assert (wait.first_response_by, wait.resolution) == ("staff:amra", "returned")
    span = "first=2026-03-02&last=2026-03-08&every=week"
    async with client(app) as http:
        await sign_in(http, "mira")
        page = (await http.get(f"/reports?{span}")).text
        assert "0,50 h" in page and "2,50 h" in page
        table = await http.get(f"/reports/activity.csv?{span}")
        rows = list(csv.DictReader(io.StringIO(table.text)))
        assert table.headers["content-disposition"].startswith("attachment")
        assert rows == [
            {
                "period": "2026-03-02",
                "conversations": "1",
                "handoffs": "1",
                "urgent": "0",
                "answered": "1",
                "first_response_hours_median": "0.5",
                "first_response_office_hours_median": "0.5",
                "resolved": "1",
                "resolution_office_hours_median": "2.5",
            }
        ]
        chart = await http.get(f"/reports/chart.svg?series=handoffs&{span}")
        assert chart.headers["content-type"].startswith("image/svg+xml")
        assert chart.text.startswith("<svg") and chart.text.count("<rect") == 2  # the background and one bar
        assert "Kalime te menaxheri i rastit" in chart.text or "Предаје" in chart.text
        assert (await http.get(f"/reports/chart.svg?series=names&{span}")).status_code == 404
        png = await http.get(f"/reports/chart.png?series=handoffs&{span}")
        assert png.headers["content-type"] == "image/png"
        assert png.headers["content-disposition"] == 'inline; filename="homeward-handoffs-2026-03-02-2026-03-08.png"'
        assert [height for _, height in _bars(png.content)] == [_bars(png.content)[0][1]]  # one bar, as in the SVG
        assert (await http.get(f"/reports/chart.png?series=names&{span}")).status_code == 404
        assert (await http.get(f"/reports/people.csv?{span}")).status_code == 404
    async with app.db.sessions() as session:
        exported = list(
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "report.export"))).scalars()
        )
    assert [(e.actor, e.target) for e in exported] == [("staff:mira", "activity")]


async def test_a_hand_off_is_urgent_whenever_in_the_wait_it_was_flagged_and_a_danger_message_is_a_hand_off(
    clocked: tuple[Homeward, FixedClock], fake: FakeBotApi
) -> None:
    app, clock = clocked
    await add_staff(app, "amra", "caseworker")
    waiting = Person(fake, 9511, "Arta", language_code="sq")  # asks for a caseworker, then is in danger
    flagged = Person(fake, 9512, "Besa", language_code="sq")  # asks, then a caseworker flags it urgent
    plain = Person(fake, 9513, "Dren", language_code="sq")  # asks, nothing more
    for person in (waiting, flagged, plain):
        sent = await onboard(fake, person, "sq")
        person.says("/human")
        await fake.wait_sent(sent + 1, person.id)
    await app.turns.wait_idle()
    clock.advance(timedelta(minutes=20))
    waiting.says("burri po me rrah, kam frikë")
    await app.turns.wait_idle()
    async with app.db.sessions() as session:
        people = dict(
            (await session.execute(select(Beneficiary.display_name, Conversation.id).join(Conversation))).all()
        )
    async with client(app) as http:
        await sign_in(http, "amra")
        await http.post(f"/conversations/{people['Besa']}/urgent", data={"csrf": await csrf(http), "urgent": "1"})
    # A web visitor who never chose a language nor consented writes that they are in danger.
    transport = httpx.ASGITransport(app=create_console(app, stream_seconds=0.0))
    async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as visitor:
        token = (await visitor.get("/chat")).text.split('name="chat-token" content="')[1].split('"')[0]
        await visitor.post(
            "/chat/messages", json={"id": "d1", "text": "zaključali su me u sobu"}, headers={"x-chat-token": token}
        )
        await app.turns.wait_idle()
    async with app.db.sessions() as session:
        waits = (await session.execute(select(Handoff.conversation_id, Handoff.urgent))).all()
        visitor_id = (
            await session.execute(select(Conversation.id).join(Beneficiary).where(Beneficiary.channel == "web"))
        ).scalar_one()
        handoff_at = (
            await session.execute(select(Conversation.handoff_at).where(Conversation.id == visitor_id))
        ).scalar_one()
        week = reports.parse_range("2026-03-02", "2026-03-08", "week", date(2026, 3, 8), KOSOVO)
        (row,) = await reports.activity(session, week, HOURS)
    assert sorted(waits) == sorted(
        [(people["Arta"], True), (people["Besa"], True), (people["Dren"], False), (visitor_id, True)]
    )
    assert handoff_at is not None  # the console's alerts see a new wait begin
    assert (row.handoffs, row.urgent) == (4, 3)
