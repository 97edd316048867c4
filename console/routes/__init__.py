"""HTTP routes of the console and the chat page; each one checks the role, calls a service, renders."""

from console.routes import (
    admin,
    broadcasts,
    chat,
    conversations,
    followups,
    inbox,
    integrations,
    knowledge,
    reports,
    sign_in,
    updates,
    youth,
)

# Every router of the console, in the order they are included (the route walk test reads this too).
MODULES = (
    sign_in,
    inbox,
    conversations,
    admin,
    chat,
    followups,
    youth,
    broadcasts,
    knowledge,
    integrations,
    reports,
    updates,
)
