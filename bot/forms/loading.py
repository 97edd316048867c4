"""Reading an XLSForm (.md, .xlsx, .xls) with pyxform and refusing, row by row, what a chat cannot play.

pyxform reads the workbook and validates it as Kobo/ODK would (its errors keep their row);
we then flatten its JSON into ``Node``s, compile every expression, and map each node back to its
survey row so that a refusal names the row a form author has to change. Markdown forms may use
either pyxform's own layout (sheet name in the first column) or one pipe table per sheet under a
``## survey`` / ``## choices`` / ``## settings`` heading, which reads better in a diff.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from bot.forms.errors import FormError
from bot.forms.model import Choice, Form, Node
from bot.forms.types import kind_of
from bot.forms.xpath import ExpressionError, compile_expression

_HEADING = re.compile(r"^\s*#{1,6}\s*([A-Za-z_]+)\s*$")
_SEPARATOR = re.compile(r"^\s*\|[\s|:-]*$")
_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]")
_REF = re.compile(r"\$\{([^}]*)\}")
_LANGUAGE_KEYS = {"label": "labels", "hint": "hints"}


def load_form(path: Path) -> Form:
    """Load and validate a form; raises FormError naming the sheet row of the first problem."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".md":
            workbook = get_xlsform(to_pyxform_markdown(path.read_text(encoding="utf-8")).encode(), ".md")
        else:
            workbook = get_xlsform(str(path))
    except OSError as err:
        raise FormError(None, "file", f"cannot read {path.name}: {err.strerror or err}") from err
    except PyXFormError as err:
        raise FormError(None, "file", f"{path.name} is not a readable XLSForm ({err})") from err
    warnings: list[str] = []
    try:
        tree = workbook_to_json(workbook, fallback_form_name=path.stem, warnings=warnings)
    except PyXFormError as err:
        raise _pyxform_error(str(err)) from err
    return _Builder(workbook, tree, path, warnings).build()


def to_pyxform_markdown(text: str) -> str:
    """Rewrite '## sheet' + table sections into pyxform's markdown layout; leave that layout alone."""
    if not any(_HEADING.match(line) for line in text.splitlines()):
        return text
    out: list[str] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            out.append(f"| {heading.group(1).lower()} |")
        elif _SEPARATOR.match(line):
            continue
        elif line.lstrip().startswith("|"):
            out.append("| " + line.lstrip())
    return "\n".join(out) + "\n"


def _pyxform_error(message: str) -> FormError:
    match = _PYXFORM_ROW.search(message)
    sheet = "survey"
    for name in ("choices", "settings", "external_choices", "entities"):
        if f"'{name}' sheet" in message or f"{name} sheet" in message:
            sheet = name
    text = _PYXFORM_ROW.sub("", message).strip(" .") if match else message
    return FormError(int(match.group(1)) if match else None, sheet, text)


def _row_of_paths(rows: list[dict[str, Any]]) -> dict[str, int]:
    """survey path ('group/field') -> spreadsheet row, following begin/end group and repeat."""
    stack: list[str] = []
    found: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        kind = re.sub(r"[\s_]+", " ", str(row.get("type", "")).strip().lower())
        name = str(row.get("name", "")).strip()
        if kind in ("end group", "end repeat", "end"):
            if stack:
                stack.pop()
            continue
        path = "/".join([*stack, name]) if name else ""
        if path:
            found.setdefault(path, number)
        if kind.startswith(("begin group", "begin repeat")) or kind == "begin":
            stack.append(name)
    return found


def _texts(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(lang): str(text) for lang, text in value.items() if str(text).strip()}
    return {"default": str(value)} if str(value).strip() else {}


class _Builder:
    def __init__(self, workbook: Any, tree: dict[str, Any], path: Path, warnings: list[str]) -> None:
        self.workbook = workbook
        self.tree = tree
        self.path = path
        self.warnings = warnings
        self.rows = _row_of_paths(list(workbook.survey or []))
        self.nodes: list[Node] = []
        self.languages: list[str] = []
        self.choices: dict[str, list[Choice]] = {}
        self.raw: list[dict[str, Any]] = []

    def build(self) -> Form:
        settings = {k: str(v) for k, v in (self.workbook.settings or [{}])[0].items()} if self.workbook.settings else {}
        self._walk(self.tree.get("children", []), [], None, None)
        self._choices()
        names = [node.name for node in self.nodes]
        for node in self.nodes:
            node.key = node.name if names.count(node.name) == 1 else node.path
        by_name = {node.name: node.index for node in self.nodes}
        form = Form(
            form_id=str(self.tree.get("id_string") or self.path.stem),
            title=str(self.tree.get("title") or settings.get("form_title") or self.path.stem),
            version=str(self.tree.get("version") or settings.get("version") or ""),
            languages=[lang for lang in self.languages if lang != "default"] or ["default"],
            default_language=settings.get("default_language") or ("default" if "default" in self.languages else None),
            nodes=self.nodes,
            choices=self.choices,
            settings=settings,
            source=self.path.name,
            by_name=by_name,
            warnings=self.warnings,
        )
        self._compile(form)
        return form

    def _language(self, texts: dict[str, str]) -> None:
        for lang in texts:
            if lang not in self.languages:
                self.languages.append(lang)

    def _walk(self, children: list[dict[str, Any]], stack: list[str], parent: int | None, repeat: int | None) -> None:
        for element in children:
            name = str(element.get("name", ""))
            if name == "meta" and element.get("control", {}).get("bodyless"):
                continue
            path = "/".join([*stack, name])
            row = self.rows.get(path)
            match = re.match(r"generated_\w+_name_(\d+)$", name)
            if row is None and match:
                row = int(match.group(1))
            control = element.get("control", {}) or {}
            if row is None and control.get("jr:count") is None and stack:
                row = self.rows.get("/".join(stack))
            xls_type = str(element.get("type", ""))
            try:
                kind = kind_of(element)
            except ValueError as err:
                written = self._written_type(row) or xls_type
                raise FormError(row, "survey", str(err).replace(f"'{xls_type}'", f"'{written}'", 1)) from err
            if kind == "repeat" and repeat is not None:
                raise FormError(row, "survey", "a repeat inside a repeat cannot be played in a chat")
            node = Node(index=len(self.nodes), name=name, key=name, path=path, type=xls_type, kind=kind,
                        row=row, parent=parent, repeat=repeat)  # fmt: skip
            bind = element.get("bind", {}) or {}
            node.labels = _texts(element.get("label"))
            node.hints = _texts(element.get("hint"))
            node.constraint_messages = _texts(bind.get("jr:constraintMsg"))
            node.required_messages = _texts(bind.get("jr:requiredMsg"))
            for texts in (node.labels, node.hints, node.constraint_messages, node.required_messages):
                self._language(texts)
            if kind == "select_one" and xls_type == "acknowledge":
                node.list_name = None
            else:
                node.list_name = element.get("itemset") or element.get("list_name")
            parameters = element.get("parameters", {}) or {}
            if xls_type == "range":
                node.minimum = float(parameters.get("start", 1))
                node.maximum = float(parameters.get("end", 10))
                node.step = float(parameters.get("step", 1))
            self.nodes.append(node)
            self.raw.append(element)
            if kind in ("group", "repeat"):
                inner_repeat = node.index if kind == "repeat" else repeat
                if kind == "repeat" and control.get("jr:count") is None:
                    raise FormError(row, "survey", "a repeat without repeat_count cannot be played in a chat")
                self._walk(element.get("children", []), [*stack, name], node.index, inner_repeat)
            node.end = len(self.nodes)

    def _written_type(self, row: int | None) -> str | None:
        survey = self.workbook.survey or []
        if row is None or not 2 <= row < len(survey) + 2:
            return None
        return str(survey[row - 2].get("type", "")).strip() or None

    def _choices(self) -> None:
        for list_name, items in (self.tree.get("choices") or {}).items():
            self.choices[list_name] = [
                Choice(
                    value=str(item.get("name", "")),
                    labels=_texts(item.get("label")) or {"default": str(item.get("name", ""))},
                    columns={k: str(v) for k, v in item.items() if k not in ("name", "label", "media")},
                    row=None,
                )
                for item in items
            ]
        for number, item in enumerate(self.workbook.external_choices or [], start=2):
            list_name = item.get("list_name") or item.get("list name")
            if not list_name or "name" not in item:
                continue
            labels = {k.split("::", 1)[1] if "::" in k else "default": str(v)
                      for k, v in item.items() if k.split("::", 1)[0] == "label"}  # fmt: skip
            columns = {k: str(v) for k, v in item.items() if k not in ("list_name", "list name", "name")}
            self.choices.setdefault(str(list_name), []).append(
                Choice(
                    value=str(item["name"]),
                    labels=labels or {"default": str(item["name"])},
                    columns=columns,
                    row=number,
                )
            )
        for choices in self.choices.values():
            for choice in choices:
                self._language(choice.labels)

    def _compile(self, form: Form) -> None:
        known = set(form.by_name)
        for node, element in zip(self.nodes, self.raw, strict=True):
            bind = element.get("bind", {}) or {}
            control = element.get("control", {}) or {}

            def compiled(source: Any, *, columns: bool = False, node: Node = node) -> Any:
                if source is None or str(source).strip() == "":
                    return None
                try:
                    return compile_expression(str(source), known, columns=columns)
                except ExpressionError as err:
                    raise FormError(node.row, "survey", str(err)) from err

            node.relevant = compiled(bind.get("relevant"))
            node.constraint = compiled(bind.get("constraint"))
            node.calculation = compiled(bind.get("calculate"))
            node.choice_filter = compiled(element.get("choice_filter"), columns=True)
            node.repeat_count = compiled(control.get("jr:count"))
            required = str(bind.get("required", "")).strip()
            if required.lower() in ("", "no", "false", "false()", "0"):
                node.required = False
            elif required.lower() in ("yes", "true", "true()", "1"):
                node.required = True
            else:
                node.required = compiled(required)
            if node.calculation is not None and node.kind not in ("calculate", "meta"):
                raise FormError(node.row, "survey", f"'{node.name}' has a calculation on a question "
                                "(a computed default), which a chat cannot show for editing")  # fmt: skip
            if node.kind in ("select_one", "select_multiple") and node.list_name is not None:
                if node.list_name not in form.choices:
                    raise FormError(node.row, "survey", f"choice list '{node.list_name}' is not on the choices sheet")
            refs: set[str] = set()
            for text in [*node.labels.values(), *node.hints.values()]:
                for name in _REF.findall(text):
                    if name.strip() not in known:
                        raise FormError(node.row, "survey", f"${{{name}}} in a label does not name a field")
                    refs.add(name.strip())
            node.label_refs = frozenset(refs)
