"""Reading an XLSForm (.md, .xlsx, .xls) with pyxform and refusing, row by row, what a chat cannot play.

pyxform reads the workbook and validates it as Kobo/ODK would (its errors keep their row);
we then flatten its JSON into ``Node``s, compile every expression, and map each node back to its
survey row so that a refusal names the row a form author has to change. Markdown forms may use
either pyxform's own layout (sheet name in the first column) or one pipe table per sheet under a
``## survey`` / ``## choices`` / ``## settings`` heading, which reads better in a diff.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pyxform.errors import PyXFormError
from pyxform.xls2json import workbook_to_json
from pyxform.xls2json_backends import get_xlsform

from bot.forms.errors import FormError
from bot.forms.model import Choice, Form, Node, language_code
from bot.forms.types import kind_of
from bot.forms.xpath import ExpressionError, compile_expression

_HEADING = re.compile(r"^\s*#{1,6}\s*([A-Za-z_]+)\s*$")
_SEPARATOR = re.compile(r"^\s*\|[\s|:-]*$")
_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]")
_REF = re.compile(r"\$\{([^}]*)\}")
_LANGUAGE_KEYS = {"label": "labels", "hint": "hints"}
OTHER = {"sq": "Tjetër", "sr": "Друго"}  # the 'Other' choice of or_other, in the form's languages
_PARENT_REF = re.compile(r"(?<![\w/.$])\.\./([A-Za-z_][\w.-]*)(?![\w/(])")  # ../name, as pyxform writes


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
    """pyxform's error as ours: its row, and the sheet it names ("On the 'choices' sheet"), else survey."""
    match = _PYXFORM_ROW.search(message)
    named = re.search(r"[Oo]n the '(\w+)' sheet|^(\w+) sheet\b", message)
    sheet = (named.group(1) or named.group(2)).lower() if named else "survey"
    if sheet not in ("survey", "choices", "settings", "external_choices", "entities"):
        sheet = "survey"
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


def _csv_items(source: Path) -> list[dict[str, str]]:
    with source.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        return [
            {str(k).strip(): str(v or "").strip() for k, v in row.items() if k}
            for row in csv.DictReader(handle, dialect=dialect)
        ]


def _xml_items(source: Path) -> list[dict[str, str]]:
    root = ElementTree.parse(source).getroot()
    return [{child.tag: (child.text or "").strip() for child in item} for item in root.iter("item")]


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
        self.problems: list[FormError] = []
        self.other_lists: dict[str, tuple[str, dict[str, Any]]] = {}

    def problem(self, row: int | None, message: str, sheet: str = "survey") -> None:
        """Note a problem and go on, so the author sees every one at once, each with its row."""
        self.problems.append(FormError(row, sheet, message))

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
        if self.problems:
            raise FormError.of(sorted(self.problems, key=lambda p: (p.sheet != "survey", p.row or 0)))
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
            itemset = str(element.get("itemset") or "").strip()
            found = itemset.endswith((".csv", ".xml")) and self._file_choices(itemset, row)
            try:
                kind = kind_of(element, found)
            except ValueError as err:
                written = self._written_type(row) or xls_type
                self.problem(row, str(err).replace(f"'{xls_type}'", f"'{written}'", 1))
                kind = "calculate"  # inert, so that references to it do not add problems of their own
            if kind == "repeat" and repeat is not None and self.nodes[repeat].repeat is not None:
                self.problem(row, "a repeat three levels deep cannot be played in a chat; "
                             "move the innermost repeat out, or ask its questions in the one around it")  # fmt: skip
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
                node.list_name = itemset or element.get("list_name")
            if node.list_name and any(c.get("name") == "other" for c in element.get("choices") or []):
                node.list_name = self._or_other(str(node.list_name), element["choices"])
            parameters = element.get("parameters", {}) or {}
            if xls_type == "range":
                node.minimum = float(parameters.get("start", 1))
                node.maximum = float(parameters.get("end", 10))
                node.step = float(parameters.get("step", 1))
            self.nodes.append(node)
            self.raw.append(element)
            if kind in ("group", "repeat"):
                inner_repeat = node.index if kind == "repeat" else repeat
                self._walk(element.get("children", []), [*stack, name], node.index, inner_repeat)
            node.end = len(self.nodes)

    def _file_choices(self, file_name: str, row: int | None) -> bool:
        """Read the choices of a select_*_from_file from the CSV or XML beside the form; False when absent."""
        if file_name in self.choices:
            return True
        source = self.path.parent / file_name
        if not source.is_file():
            return False
        try:
            items = _csv_items(source) if file_name.endswith(".csv") else _xml_items(source)
        except (OSError, UnicodeDecodeError, csv.Error, ElementTree.ParseError) as err:
            self.problem(row, f"the choices file '{file_name}' cannot be read ({type(err).__name__})")
            return False
        if not items or any("name" not in item for item in items):
            self.problem(row, f"the choices file '{file_name}' needs a 'name' column (and 'label')")
            return False
        self.choices[file_name] = [
            Choice(
                value=item["name"],
                labels={k.split("::", 1)[1] if "::" in k else "default": v
                        for k, v in item.items() if k.split("::", 1)[0] == "label" and v} or {"default": item["name"]},
                columns={k: v for k, v in item.items() if k != "name"},
                row=None,
            )
            for item in items
        ]  # fmt: skip
        return True

    def _or_other(self, list_name: str, offered: list[dict[str, Any]]) -> str:
        """A select with or_other gets its list plus 'Other' (the specify question comes from pyxform)."""
        name = f"{list_name} or_other"
        if name not in self.other_lists:
            self.other_lists[name] = (list_name, next(c for c in offered if c.get("name") == "other"))
        return name

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
        for name, (base, other) in self.other_lists.items():
            labels = {lang: OTHER.get(language_code(lang) or "", str(other.get("label") or "Other"))
                      for lang in self.languages}  # fmt: skip
            kept = [c for c in self.choices.get(base, []) if c.value != "other"]
            self.choices[name] = [*kept, Choice("other", labels, {}, None)]
        for choices in self.choices.values():
            for choice in choices:
                self._language(choice.labels)

    def _compile(self, form: Form) -> None:
        known = set(form.by_name)
        for node, element in zip(self.nodes, self.raw, strict=True):
            bind = element.get("bind", {}) or {}
            control = element.get("control", {}) or {}

            def compiled(source: Any, column: str, *, columns: bool = False, node: Node = node) -> Any:
                if source is None or str(source).strip() == "":
                    return None
                text = _PARENT_REF.sub(
                    lambda m: f"${{{m.group(1)}}}" if m.group(1) in known else m.group(0), str(source)
                )
                try:
                    return compile_expression(text, known, columns=columns)
                except ExpressionError as err:
                    self.problem(node.row, f"the {column} column of '{node.name}': {err}")
                    return None

            node.relevant = compiled(bind.get("relevant"), "relevant")
            node.constraint = compiled(bind.get("constraint"), "constraint")
            node.calculation = compiled(bind.get("calculate"), "calculation")
            node.choice_filter = compiled(element.get("choice_filter"), "choice_filter", columns=True)
            node.repeat_count = compiled(control.get("jr:count"), "repeat_count")
            required = str(bind.get("required", "")).strip()
            if required.lower() in ("", "no", "n", "f", "false", "false()", "0"):
                node.required = False
            elif required.lower() in ("yes", "y", "t", "true", "true()", "1"):
                node.required = True
            elif re.fullmatch(r"[A-Za-z_][\w.-]*", required):
                self.problem(node.row, f"the required column of '{node.name}' holds '{required}'; "
                             "write yes or no, or an expression such as ${age} < 18")  # fmt: skip
            else:
                node.required = compiled(required, "required") or False
            default = element.get("default")
            if node.asked and default is not None and str(default).strip():
                if element.get("_dynamic_default") or "${" in str(default):
                    node.default_expr = compiled(default, "default")
                else:
                    node.default = str(default)
            if node.asked and node.calculation is not None:
                node.default_expr, node.calculation = node.calculation, None  # a computed default
            if node.kind in ("select_one", "select_multiple") and node.list_name is not None:
                if node.list_name not in form.choices:
                    self.problem(node.row, f"choice list '{node.list_name}' is not on the choices sheet; "
                                 "add its choices there or correct the list name")  # fmt: skip
            refs: set[str] = set()
            for text in [*node.labels.values(), *node.hints.values()]:
                for name in _REF.findall(text):
                    if name.strip() not in known:
                        self.problem(node.row, f"${{{name}}} in a label does not name a field")
                        continue
                    refs.add(name.strip())
            node.label_refs = frozenset(refs)
