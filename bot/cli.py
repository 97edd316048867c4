"""The `homeward` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime

from bot import logs
from bot.config import Settings

log = logging.getLogger("homeward")

CommandAdder = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]


def _since(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


async def _run_until_signal(main: Callable[[asyncio.Event], object]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # event loops without signal handlers (Windows)
            loop.add_signal_handler(sig, stop.set)
    await main(stop)  # type: ignore[misc]


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from db.migrate import upgrade

    upgrade(settings.database_url)
    print("database is at the latest version")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.boot import run as serve

    intake = not args.console_only  # beside a `homeward bot` process, the console must not poll as well
    asyncio.run(_run_until_signal(lambda stop: serve(settings, stop, console=True, intake=intake)))
    return 0


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.boot import run as serve

    if not settings.telegram_token:
        print("HOMEWARD_TELEGRAM_TOKEN is not set: the Telegram channel cannot start.", file=sys.stderr)
        return 2
    if args.webhook and not (settings.webhook_url and settings.webhook_secret):
        print("Webhook mode needs HOMEWARD_WEBHOOK_URL and HOMEWARD_WEBHOOK_SECRET.", file=sys.stderr)
        return 2
    asyncio.run(_run_until_signal(lambda stop: serve(settings, stop, console=False, webhook=args.webhook)))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.boot import run as serve

    asyncio.run(_run_until_signal(lambda stop: serve(settings, stop, console=False, intake=False)))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.exports import run_export

    return asyncio.run(
        run_export(
            settings,
            args.what,
            args.format,
            args.output,
            args.since,
            args.lang,
            args.redact,
            programme=args.programme,
            cohort=args.cohort,
        )
    )


def cmd_keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.keys import rotate
    from db.encryption import Keyring

    async def run() -> dict[str, int]:
        db = settings.database()
        try:
            return await rotate(db, Keyring(settings.secret_keys()), settings.resolved_secret_key())
        finally:
            await db.dispose()

    for name, count in asyncio.run(run()).items():
        print(f"{name}: {count} re-keyed")
    print("done: every value now uses the current key; the previous keys can be removed")
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import Homeward
    from db.migrate import upgrade

    upgrade(settings.database_url)

    async def run() -> dict[str, int]:
        app = Homeward(settings)  # the same registry of personal data as the running service
        try:
            return await app.retention.run(datetime.now(UTC), dry_run=args.dry_run)
        finally:
            await app.stop()

    report = asyncio.run(run())
    verb = "would remove" if args.dry_run else "removed"
    for name, count in report.items():
        print(f"{name}: {verb} {count}")
    return 0


def build_parser(extra: list[CommandAdder]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homeward", description="Homeward: chat assistance for returnees.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="everything in one process: console, web chat, Telegram, delivery")
    serve.add_argument(
        "--console-only",
        action="store_true",
        help="console and web chat (with delivery), no Telegram intake: beside `homeward bot`",
    )
    serve.set_defaults(func=cmd_serve)
    bot = sub.add_parser("bot", help="the Telegram channel with the engine and delivery")
    bot.add_argument("--webhook", action="store_true", help="receive updates by webhook instead of polling")
    bot.set_defaults(func=cmd_bot)
    sub.add_parser("worker", help="delivery and scheduling only").set_defaults(func=cmd_worker)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    retention = sub.add_parser("retention", help="remove data past its retention period")
    retention.add_argument("--dry-run", action="store_true", help="only report what would be removed")
    retention.set_defaults(func=cmd_retention)

    keys = sub.add_parser("keys", help="encryption keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("rotate", help="re-encrypt with the current secret key").set_defaults(func=cmd_keys_rotate)

    export = sub.add_parser("export", help="export data")
    export.add_argument("what", choices=["transcripts", "followups", "signups"])
    export.add_argument("--format", choices=["jsonl", "csv", "xlsx"], default="jsonl")
    export.add_argument("--since", type=_since, help="only records from this date (YYYY-MM-DD)")
    export.add_argument("--output", help="file to write; standard output when not given")
    export.add_argument(
        "--lang",
        choices=["sq", "sr-Cyrl", "sr-Latn"],
        help="write choice labels in this language instead of choice names",
    )
    export.add_argument(
        "--redact",
        action="store_true",
        help="mask names, phone numbers, e-mail addresses, dates and ID-like numbers (for M&E)",
    )
    export.add_argument("--programme", help="signups: only this programme (its code)")
    export.add_argument("--cohort", type=int, help="signups: only this cohort (its number)")
    export.set_defaults(func=cmd_export)

    for add in extra:
        add(sub)
    return parser


def _extra_commands() -> list[CommandAdder]:
    adders: list[CommandAdder] = []
    for module in (
        "bot.kb.commands",
        "bot.forms.commands",
        "console.commands",
        "bot.youth.commands",
        "bot.integrations.commands",
        "bot.channels.commands",
        "bot.channels.viber_commands",
    ):
        try:
            imported = __import__(module, fromlist=["add_commands"])
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue  # that capability is not part of this build
            raise
        adders.append(imported.add_commands)
    return adders


# The long-running commands: they parse without the other commands' modules (the console's,
# the knowledge base's, the forms'), which a restarting `homeward bot` need not import first.
RUNNING = ("serve", "bot", "worker")


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    running = bool(given) and given[0] in RUNNING and not {"-h", "--help"} & set(given)
    parser = build_parser([] if running else _extra_commands())
    args = parser.parse_args(given)
    settings = Settings()
    logs.configure(settings.log_level)
    func = args.func
    try:
        return int(func(args, settings) if func.__code__.co_argcount == 2 else func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
