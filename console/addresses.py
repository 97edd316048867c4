"""The address a console request came from, decided in this one place.

Sign-in slowing counts failures per address, so the address must be one a client cannot choose:
the peer of the connection. Trusting a proxy's `X-Forwarded-For` belongs here, and only here.
"""

from __future__ import annotations

from starlette.requests import Request


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
