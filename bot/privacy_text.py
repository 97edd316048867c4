"""The readable copy of a person's data (/mydata's text file), entirely in their language and script.

`PersonalData.collect` gives the same data as the JSON file: sections of fields keyed in English
for machines. Here every section gets a title, every field a label and every value a form a person
reads: yes or no, words for codes, dates and times in Kosovo's time zone. A section or field added
later without a label here still shows (with a heading or label made from its key), never fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot.events import KIND_LABELS
from bot.i18n import N_, Translator

# One field of a section: its label, and how its value is read (a key of `_READERS`, or a lookup).
Field = tuple[str, str]

TITLES = {
    "profile": N_("Profile"),
    "consents": N_("Consents"),
    "transcript": N_("Conversation"),
    "questionnaires": N_("Questionnaire answers"),
    "follow_up_schedule": N_("Follow-up schedule"),
    "questions": N_("Questions to the knowledge base"),
    "youth_signups": N_("Youth programme sign-ups"),
    "files": N_("Photos and documents you sent"),
}

FIELDS: dict[str, dict[str, Field]] = {
    "profile": {
        "channel": (N_("App"), "app"),
        "name": (N_("Name"), "text"),
        "language": (N_("Language"), "locale"),
        "municipality": (N_("Municipality"), "municipality"),
        "return_date": (N_("Return date"), "date"),
        "first_contact": (N_("First message"), "moment"),
        "last_contact": (N_("Last message"), "moment"),
        "source": (N_("Link or code you started from"), "text"),
        "follow_up_consent": (N_("You agreed to follow-up questions"), "yes_no"),
        "opted_out": (N_("You stopped follow-ups and announcements"), "yes_no"),
    },
    "consents": {
        "purpose": (N_("What for"), "purpose"),
        "version": (N_("Version of the notice"), "number"),
        "granted": (N_("You agreed"), "yes_no"),
        "language": (N_("Language"), "locale"),
        "at": (N_("When"), "moment"),
    },
    "transcript": {
        "at": (N_("When"), "moment"),
        "direction": (N_("Direction"), "direction"),
        "author": (N_("Written by"), "author"),
        "kind": (N_("Type of message"), "message_kind"),
        "text": (N_("Text"), "text"),
        "file_id": (N_("Reference of the file in the app"), "text"),
    },
    "questionnaires": {
        "form": (N_("Questionnaire"), "form"),
        "wave": (N_("Follow-up round"), "number"),
        "status": (N_("Status"), "form_status"),
        "started": (N_("Started"), "moment"),
        "completed": (N_("Finished"), "moment"),
        "answers": (N_("Answers"), "answers"),
        "scores": (N_("Scores"), "scores"),
    },
    "follow_up_schedule": {
        "wave": (N_("Follow-up round"), "number"),
        "months": (N_("Months after your return"), "number"),
        "due": (N_("Planned for"), "moment"),
        "status": (N_("Status"), "contact_status"),
        "reason": (N_("Reason"), "contact_reason"),
    },
    "questions": {
        "at": (N_("When"), "moment"),
        "text": (N_("Your question"), "text"),
        "topic": (N_("Topic of the answer"), "topic"),
        "helpful": (N_("You found the answer helpful"), "yes_no"),
    },
    "youth_signups": {
        "programme": (N_("Programme"), "programme"),
        "cohort": (N_("Group"), "cohort"),
        "status": (N_("Status"), "enrolment_status"),
        "source": (N_("Link or code you started from"), "text"),
        "name": (N_("Name and surname"), "text"),
        "birth_date": (N_("Date of birth"), "date"),
        "municipality": (N_("Municipality"), "municipality"),
        "media_consent": (N_("Photos and videos allowed"), "yes_no"),
        "guardian": (N_("Parent or guardian"), "text"),
        "guardian_contact": (N_("Contact of the parent or guardian"), "text"),
        "guardian_consent": (N_("Guardian consent"), "guardian_state"),
        "created": (N_("Signed up"), "moment"),
    },
    "files": {
        "at": (N_("When"), "moment"),
        "name": (N_("File name"), "text"),
        "type": (N_("Type of file"), "media_type"),
        "bytes": (N_("Size"), "size"),
        "kept": (N_("The file is still kept"), "yes_no"),
    },
}

# The names of the apps themselves are not translated.
APPS = {"telegram": "Telegram", "whatsapp": "WhatsApp", "viber": "Viber", "web": N_("Web chat")}
LANGUAGES = {"sq": "Shqip", "sr-Cyrl": "Српски (ћирилица)", "sr-Latn": "Srpski (latinica)"}
WORDS: dict[str, dict[str, str]] = {
    "purpose": {
        "general": N_("Keeping this conversation"),
        "followup": N_("Follow-up questions"),
        "youth": N_("Youth programme sign-up"),
        "media": N_("Photos and videos in the youth programme"),
        "guardian": N_("Consent as a parent or guardian"),
    },
    "direction": {"in": N_("From you"), "out": N_("To you")},
    "message_kind": {"text": N_("Message"), "command": N_("Command"), **KIND_LABELS},
    "form_status": {"in_progress": N_("not finished"), "completed": N_("finished")},
    "contact_status": {
        "planned": N_("planned"),
        "sent": N_("sent to you, not answered yet"),
        "answered": N_("answered"),
        "skipped": N_("skipped"),
        "expired": N_("not answered in time"),
    },
    "contact_reason": {
        "opted_out": N_("you did not agree to follow-ups or stopped them"),
        "handoff": N_("you were talking with a caseworker at that time"),
        "answered": N_("you had answered a follow-up shortly before"),
        "blocked": N_("the bot was blocked in your app"),
        "expired": N_("the return date was given after this round had closed"),
    },
    "enrolment_status": {
        "draft": N_("filling in the form"),
        "choosing": N_("choosing a group"),
        "confirmed": N_("you have a place"),
        "pending_guardian": N_("place held until your parent or guardian agrees"),
        "waiting": N_("on the waiting list"),
        "offered": N_("a freed place is offered to you"),
        "interested": N_("interested, no group nearby yet"),
        "cancelled": N_("cancelled"),
        "lapsed": N_("the offer was not taken up in time"),
        "duplicate": N_("signed up twice"),
    },
    "guardian_state": {
        "not_needed": N_("not needed (18 or older)"),
        "pending": N_("waiting for the parent or guardian"),
        "confirmed": N_("given"),
        "refused": N_("refused"),
    },
    "media_type": {
        "image": N_("Photo"),
        "audio": N_("Audio file"),
        "video": N_("Video"),
        "file": N_("Document"),
    },
    "scores": {
        "score_economic": N_("Economic"),
        "score_social": N_("Social"),
        "score_psychosocial": N_("Psychosocial"),
        "score_composite": N_("Composite"),
    },
}
AUTHORS = {"person": N_("You"), "bot": N_("Homeward (automatic answer)")}
FORMS = {"reintegration_followup": N_("Follow-up questionnaire"), "youth_signup": N_("Youth programme sign-up")}

_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Lookups:
    """Names the data only refers to, in the person's language: places, programmes, groups, topics, questions."""

    names: dict[str, Callable[[Any], str | None]] = field(default_factory=dict)
    # A questionnaire's answers as (question, answer) pairs: (form id, answers) -> pairs.
    answers: Callable[[str, Mapping[str, Any]], list[tuple[str, Any]] | None] | None = None
    media_kind: Callable[[str], str] | None = None


def readable_key(key: str) -> str:
    """A key nobody labelled yet, as words: `new_thing` -> `New thing`."""
    words = re.sub(r"[_\W]+", " ", key).strip()
    return words[:1].upper() + words[1:] if words else "—"


class Readable:
    """Renders collected data for one person's Translator."""

    def __init__(self, t: Translator, lookups: Lookups | None = None) -> None:
        self.t = t
        self.lookups = lookups or Lookups()

    # -- values ----------------------------------------------------------------------------
    def moment(self, value: Any) -> str:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return self.t.datetime(when if when.tzinfo else when.replace(tzinfo=UTC))

    def day(self, value: Any) -> str:
        return self.t.date(value if isinstance(value, date) else date.fromisoformat(str(value)))

    def plain(self, value: Any) -> str:
        """Any value, for a field without a known kind: yes/no, dates, lists and codes made readable."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return self.t.gettext("Yes") if value else self.t.gettext("No")
        if isinstance(value, datetime):
            return self.moment(value)
        if isinstance(value, date):
            return self.day(value)
        if isinstance(value, float):
            return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, Mapping):
            return "; ".join(f"{readable_key(str(k))}: {self.plain(v)}" for k, v in value.items() if _given(v))
        if isinstance(value, list | tuple):
            return ", ".join(self.plain(v) for v in value if _given(v))
        text = str(value)
        try:
            if _MOMENT.match(text):
                return self.moment(text)
            if _DAY.match(text):
                return self.day(text)
        except ValueError:
            pass
        return text

    def word(self, group: str, value: Any) -> str:
        found = WORDS.get(group, {}).get(str(value))
        return self.t.gettext(found) if found else readable_key(str(value))

    def value(self, kind: str, value: Any, item: Mapping[str, Any]) -> str | list[tuple[str, str]]:
        t = self.t
        if kind == "text":
            return str(value)
        if kind == "yes_no" and isinstance(value, bool):
            return self.plain(value)
        if kind == "moment":
            return self.moment(value)
        if kind == "date":
            return self.day(value)
        if kind == "number":
            return self.plain(value)
        if kind == "app":
            app = APPS.get(str(value))
            return t.gettext(app) if app == APPS["web"] else app or readable_key(str(value))
        if kind == "locale":
            return LANGUAGES.get(str(value), str(value))
        if kind == "author":
            return self.author(str(value))
        if kind == "form":
            form = FORMS.get(str(value))
            return t.gettext(form) if form else t.gettext("Questionnaire")
        if kind == "size":
            return self.size(value)
        if kind == "media_type":
            shown = self.lookups.media_kind(str(value)) if self.lookups.media_kind else "file"
            return self.word("media_type", shown)
        if kind == "answers" and isinstance(value, Mapping):
            found = self.lookups.answers(str(item.get("form", "")), value) if self.lookups.answers else None
            pairs = found if found is not None else [(readable_key(str(k)), v) for k, v in value.items()]
            return [(question, a if isinstance(a, str) else self.plain(a)) for question, a in pairs]
        if kind == "scores" and isinstance(value, Mapping):
            return [(self.word("scores", k), self.plain(v)) for k, v in value.items() if _given(v)]
        if kind in WORDS:
            return self.word(kind, value)
        lookup = self.lookups.names.get(kind)
        named = lookup(value) if lookup is not None else None
        return named or self.plain(value)

    def author(self, author: str) -> str:
        if author in AUTHORS:
            return self.t.gettext(AUTHORS[author])
        kind, _, name = author.partition(":")
        if kind == "staff" and name:
            return self.t.gettext("Caseworker {name}", name=name)
        if kind == "broadcast":
            return self.t.gettext("Announcement from the mission")
        return self.t.gettext("Mission staff")

    def size(self, value: Any) -> str:
        n = int(value)
        if n < 1024:
            return self.t.ngettext("{n} byte", "{n} bytes", n)
        kb = -(-n // 1024)
        if kb < 1024:
            return self.t.gettext("{size} KB", size=kb)
        return self.t.gettext("{size} MB", size=f"{n / 1024 / 1024:.1f}".replace(".", ","))

    # -- the file --------------------------------------------------------------------------
    def title(self, section: str) -> str:
        known = TITLES.get(section)
        return self.t.gettext(known) if known else readable_key(section)

    def lines_of(self, section: str, item: Any) -> list[str]:
        if not isinstance(item, Mapping):
            return _block(self.plain(item))
        fields = FIELDS.get(section, {})
        lines: list[str] = []
        for key, value in item.items():
            if not _given(value):
                continue
            label, kind = fields.get(key, ("", ""))
            label = self.t.gettext(label) if label else readable_key(str(key))
            try:
                shown = self.value(kind, value, item) if kind else self.plain(value)
            except (TypeError, ValueError):
                shown = self.plain(value)
            if isinstance(shown, list):
                lines.append(f"{label}:")
                for question, answer in shown:
                    lines += _block(f"{question}: {answer}", indent="  ")
            else:
                lines += _block(f"{label}: {shown}")
        return lines

    def text(self, data: Mapping[str, Any]) -> str:
        heading = self.t.gettext("Your data held by the mission")
        lines = [heading, "=" * len(heading), ""]
        for section, value in data.items():
            title = self.title(section).upper()
            lines += [title, "-" * len(title), ""]
            items = value if isinstance(value, list) else [value] if _given(value) else []
            if not items:
                lines += [self.t.gettext("Nothing kept."), ""]
            for item in items:
                lines += [*self.lines_of(section, item), ""]
        # In the Latin-script locale all of it is Latin, also what was written in Cyrillic (the JSON keeps it).
        return self.t.script("\n".join(lines))


def _given(value: Any) -> bool:
    return value not in (None, "", [], {})


def _block(line: str, indent: str = "") -> list[str]:
    """One entry; a text of several lines keeps its lines, indented under the first."""
    first, *rest = line.splitlines() or [""]
    return [indent + first, *(f"{indent}    {more}" for more in rest)]


def as_text(data: Mapping[str, Any], t: Translator, lookups: Lookups | None = None) -> str:
    """A plain, readable version of the same data: one block per section, one line per field."""
    return Readable(t, lookups).text(data)
