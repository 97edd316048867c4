"""Homeward: a chat assistant for people returning home to Kosovo, and a console for their caseworkers."""

from bot import lazytypes

lazytypes.install()
