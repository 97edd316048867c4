"""Kosovo's 38 municipalities in Albanian and Serbian (both scripts), and finding one from what a person types.

"Prishtine", "pristina" and "Приштина" all find Prishtinë / Priština; "Mitrovica" finds both
Mitrovicë e Jugut and Mitrovicë e Veriut, so the person is asked which one.

Besides the official names, the CSV's ``aliases`` column (names separated by ";") holds the names
people use in everyday speech, in both scripts: "Kosovska Mitrovica" (both Mitrovicas),
"Kosovska Kamenica", "Đeneral Janković", "Vrbovac"... An alias is matched like a name.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz

from bot.text import fold


@dataclass(frozen=True)
class Municipality:
    id: str
    sq: str
    sr_latn: str
    sr_cyrl: str
    aliases: tuple[str, ...] = ()

    def name(self, locale: str) -> str:
        return {"sq": self.sq, "sr-Latn": self.sr_latn, "sr-Cyrl": self.sr_cyrl}.get(locale, self.sq)

    def keys(self) -> set[str]:
        names = (self.sq, self.sr_latn, self.sr_cyrl, *self.aliases)
        return {" ".join(fold(name).replace("-", " ").split()) for name in names}


class Municipalities:
    def __init__(self, items: list[Municipality]) -> None:
        self.items = items
        self._by_id = {m.id: m for m in items}

    @classmethod
    def load(cls, path: Path) -> Municipalities:
        with path.open(encoding="utf-8") as f:
            return cls(
                [
                    Municipality(
                        r["id"],
                        r["sq"],
                        r["sr_latn"],
                        r["sr_cyrl"],
                        tuple(a.strip() for a in (r.get("aliases") or "").split(";") if a.strip()),
                    )
                    for r in csv.DictReader(f)
                ]
            )

    def get(self, municipality_id: str | None) -> Municipality | None:
        return self._by_id.get(municipality_id or "")

    @staticmethod
    def name_of(municipalities: Municipalities | None, municipality_id: str | None, locale: str) -> str | None:
        if municipalities is None:
            return None
        found = municipalities.get(municipality_id)
        return found.name(locale) if found else None

    def search(self, typed: str, limit: int = 5) -> list[Municipality]:
        """Best matches for what a person typed, in either language or script; several when it is ambiguous."""
        query = " ".join(fold(typed).replace("-", " ").split())
        if len(query) < 2:
            return []
        exact = [m for m in self.items if query in m.keys()]
        if exact:
            return exact
        words = query.split()
        prefix = [
            m
            for m in self.items
            if any(all(any(w.startswith(q) for w in key.split()) for q in words) for key in m.keys())
        ]
        if prefix:
            return prefix[:limit]
        scored = sorted(
            ((max(fuzz.ratio(query, key) for key in m.keys()), m) for m in self.items),
            key=lambda pair: -pair[0],
        )
        return [m for score, m in scored if score >= 75][:limit]
