"""The danger detector fires for people at risk and stays quiet for calm, ordinary questions."""

from __future__ import annotations

import pytest

from bot.kb.safety import is_emergency

IN_DANGER = [
    # Albanian: violence and threats (standard, Gheg, with and without diacritics)
    "me rrahin",
    "burri më rreh çdo ditë",
    "me kercenojne qe do me vrasin",
    "me sulmuan ne rruge",
    "me ka sulmu nje qen",
    "dhuna ne familje",
    # Albanian: self-harm
    "do të vras veten",
    "do te vras veten",
    "dua te vdes",
    "nuk dua me jetu ma",
    # Albanian: medical emergency
    "gjak",
    "po me rrjedh gjak shume",
    "djali nuk po merr fryme",
    "ka rene zjarr ne shtepi",
    "babai pati infarkt",
    "cuna u helmu",
    # Serbian Cyrillic
    "хоће да ме убије",
    "не могу да дишем",
    "ме туче отац",
    "нећу више да живим",
    # Serbian Latin, with and without diacritics
    "ne mogu da dišem",
    "ne mogu da disem",
    "nesreca",
    "desila se nesreća na putu",
    "muž me tuče",
    "ubiću se",
    "razmisljam o samoubistvu",
    "gori kuća",
    "dete se onesvestilo",
    "dete se otrovalo",
    "prete mi smrcu",
    "pretnje od komsije",
    "krvarim",
]

CALM = [
    "numrat e emergjences",
    "cili eshte numri i policise",
    "numri i ambulances",
    "zjarrfiksit numri",
    "112 a eshte falas",
    "koji je broj hitne pomoci",
    "broj vatrogasaca",
    "ku bej analizat e gjakut",
    "grupi i gjakut",
    "pritisk i gjakut",
    "krvna slika gde se radi",
    "analiza krvi",
    "gjakove ku eshte zyra",
    "ђаковица општина",
    "ku mund te shkoj te mjeku",
    "treba mi lek za pritisak",
    "kam humbur leternjoftimin",
    "izgubio sam licnu kartu",
    "ndihem i vetmuar",
    "osecam se tuzno",
    "nesrecan sam od kad sam se vratio",
    "kako da obrisem podatke",
    "a ka ndihme per qira",
    "kurs za vozaca",
    "",
]


@pytest.mark.parametrize("text", IN_DANGER)
def test_someone_in_danger_is_recognised(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize("text", CALM)
def test_calm_questions_do_not_raise_the_alarm(text: str) -> None:
    assert not is_emergency(text)
