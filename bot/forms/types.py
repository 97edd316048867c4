"""Which XLSForm types a chat can play, and as what kind of prompt.

A photo, a voice note, a video or a shared location arrive in a chat as easily as text, so
``image``, ``audio``, ``video``, ``file`` and ``geopoint`` are played (the channel hands the
runner a file reference or "lat lon"). What needs a device sensor, a drawing, a file shipped next
to the form, or an external app is refused here, with the reason, when the form loads.
"""

from __future__ import annotations

import re
from typing import Any

_PLAIN = {
    "note": "note", "text": "text", "integer": "integer", "decimal": "decimal", "date": "date",
    "time": "time", "datetime": "datetime", "select one": "select_one", "select_one": "select_one",
    "select all that apply": "select_multiple", "select_multiple": "select_multiple",
    "select one external": "select_one", "acknowledge": "select_one", "barcode": "text",
    "geopoint": "geopoint", "gps": "geopoint", "location": "geopoint", "image": "image", "photo": "image",
    "audio": "audio", "video": "video",
    "file": "file", "calculate": "calculate", "group": "group", "repeat": "repeat", "range": "range",
}  # fmt: skip

_META = {
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username",
    "email", "audit", "start-geopoint", "hidden", "uri:deviceid", "uri:subscriberid",
    "uri:simserial", "uri:phonenumber", "uri:username", "uri:email",
}  # fmt: skip

_REFUSED = {
    "geotrace": "a line drawn on a map cannot be answered in a chat",
    "geoshape": "a shape drawn on a map cannot be answered in a chat",
    "rank": "ranking by dragging cannot be answered in a chat",
    "background-audio": "recording sound in the background is not possible in a chat",
    "xml-external": "an external XML data file is not available to the chat",
    "csv-external": "an external CSV data file is not available to the chat",
    "trigger": "a trigger button has no meaning in a chat",
}


def kind_of(element: dict[str, Any], file_found: bool = False) -> str:
    """The prompt kind for a pyxform JSON element; raises ValueError naming what cannot be played.

    ``file_found``: the CSV or XML file a select_one_from_file names was read from beside the form.
    """
    xls_type = str(element.get("type", "")).strip()
    lowered = re.sub(r"[\s_]+", " ", xls_type.lower())
    if lowered in _META or xls_type in _META:
        return "meta"
    itemset = str(element.get("itemset") or "").strip()
    if itemset.endswith(".geojson"):
        return _refuse(xls_type, f"its choices are map features in '{itemset}', which a chat cannot show")
    if not file_found and ("from file" in lowered or itemset.endswith((".csv", ".xml"))):
        source = itemset or element.get("list_name") or "a file"
        return _refuse(xls_type, f"its choices come from the file '{source}', which is not beside the form: "
                       "put the file in the same folder as the form")  # fmt: skip
    if lowered in _REFUSED:
        return _refuse(xls_type, _REFUSED[lowered])
    kind = _PLAIN.get(lowered)
    if kind is None:
        return _refuse(xls_type, "this type cannot be answered in a chat")
    if kind == "range":
        step = float((element.get("parameters") or {}).get("step", 1))
        return "integer" if step.is_integer() else "decimal"
    if kind == "select_one" and lowered == "select one external" and not element.get("itemset"):
        return _refuse(xls_type, "its choices are missing from the external_choices sheet")
    return kind


def _refuse(xls_type: str, reason: str) -> str:
    raise ValueError(f"type '{xls_type}' cannot be played: {reason}")
