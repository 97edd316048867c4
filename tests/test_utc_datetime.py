"""UTC datetimes are written to SQLite as SQLAlchemy's own DATETIME writes them, and read back the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.base import DATETIME

from db.models import UTCDateTime

MOMENTS = [
    datetime(2026, 12, 6, 15, 52, 0, tzinfo=UTC),
    datetime(2026, 12, 6, 15, 52, 0, 123456, tzinfo=UTC),
    datetime(1999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 3, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=1),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_gets_the_text_sqlalchemy_writes(moment: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime()._cached_bind_processor(dialect)
    assert ours is not None
    theirs = DATETIME().bind_processor(dialect)
    assert theirs is not None
    expected = theirs(moment.astimezone(UTC).replace(tzinfo=None))
    assert ours(moment) == expected
    result = UTCDateTime()._cached_result_processor(dialect, None)
    assert result is not None
    assert result(expected) == moment


def test_none_and_naive() -> None:
    process = UTCDateTime()._cached_bind_processor(sqlite.dialect())
    assert process is not None and process(None) is None
    with pytest.raises(ValueError):
        process(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), postgresql.dialect())


def test_postgresql_gets_aware_utc() -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    bound = UTCDateTime().process_bind_param(moment, postgresql.dialect())
    assert bound == moment and bound is not None and bound.utcoffset() == timedelta(0)


def test_a_moment_written_again_is_the_same_text_and_the_next_one_its_own() -> None:
    # One processor writes a turn's moment into several columns: the last one is kept with its text.
    dialect = sqlite.dialect()
    ours = UTCDateTime()._cached_bind_processor(dialect)
    theirs = DATETIME().bind_processor(dialect)
    assert ours is not None and theirs is not None
    for moment in [*MOMENTS, *MOMENTS[::-1], MOMENTS[0], MOMENTS[0], MOMENTS[3], MOMENTS[0]]:
        assert ours(moment) == theirs(moment.astimezone(UTC).replace(tzinfo=None))
    equal_but_other = datetime(2026, 12, 6, 16, 52, tzinfo=timezone(timedelta(hours=1)))  # == MOMENTS[0]
    ours(MOMENTS[0])
    assert ours(equal_but_other) == theirs(MOMENTS[0].replace(tzinfo=None))
    with pytest.raises(ValueError):
        ours(datetime(2026, 1, 1))  # a naive one is refused even right after an aware one
