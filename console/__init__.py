"""The caseworker console and the public web chat page, served by one FastAPI application.

Routes (`console.routes`) stay thin; what they do lives in modules named after what the field
talks about: `auth` (accounts, sessions, CSRF), `access` (roles), `inbox`, `search`,
`conversations`, `notes`, `canned`, `audit`, `exports`, `dashboard`, `files`, `chat` and `live`.
"""
