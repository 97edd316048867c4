"""HTTP routes of the console and the chat page; each one checks the role, calls a service, renders."""
