"""aiogram's Telegram types and API methods, each built when first used rather than all at import.

Importing aiogram built the pydantic schemas of all its ~300 types and ~180 methods: about 2.5 s,
two thirds of `import bot.app`, before a restarted process could send anything, though a process
uses a dozen of them. aiogram declares its types `defer_build=True`, then rebuilds every one at the
end of `aiogram.types` so that the names each type module imports only for type checking resolve;
its methods are built as each class is defined. Here:

- the rebuild loop at the end of `aiogram.types` does what it is for and nothing more: the names
  it would resolve with are put into each type's module, where pydantic looks for them;
- `TelegramMethod` gets `defer_build=True`, as aiogram's types have, before any method is defined.

Each model is then built the first time it is used, whatever uses it first. The schemas are the
same as aiogram's own eager build (every type and method compared when this was written; a test
compares `Update`'s, which holds most of them). `install()` is called by the `bot` package itself,
so any import of aiogram through Homeward's code gets it; it does nothing once aiogram is imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TYPES = "aiogram.types"
METHODS = "aiogram.methods.base"


def _give_names(namespace: dict[str, Any]) -> None:
    """Each module of aiogram's types gets the names its annotations use (imported there for type checking only)."""
    for name, module in list(sys.modules.items()):
        if module is not None and (name == TYPES or name.startswith(TYPES + ".")):
            for key, value in namespace.items():
                module.__dict__.setdefault(key, value)


def _types(module: ModuleType, run: Any) -> None:
    from pydantic import BaseModel

    rebuild = BaseModel.__dict__["model_rebuild"]
    given: list[dict[str, Any]] = []

    def deferred(cls: type[BaseModel], **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        if namespace is None or not cls.__module__.startswith(TYPES + ".") or cls.__pydantic_complete__:
            return rebuild.__func__(cls, **kwargs)  # type: ignore[no-any-return]
        if not any(namespace is done for done in given):  # the loop passes one namespace for every type
            _give_names(namespace)
            given.append(namespace)
        return None

    BaseModel.model_rebuild = classmethod(deferred)  # type: ignore[method-assign,assignment]
    try:
        run(module)
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]


def _methods(module: ModuleType, run: Any) -> None:
    run(module)
    module.TelegramMethod.model_config["defer_build"] = True  # every method class is defined after this


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, around: Any) -> None:
        self.inner = inner
        self.around = around

    def __getattr__(self, name: str) -> Any:  # get_source and the like, for tracebacks
        return getattr(self.inner, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.around(module, self.inner.exec_module)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.waiting = {TYPES: _types, METHODS: _methods}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        around = self.waiting.pop(fullname, None)
        if around is None:
            return None
        if not self.waiting:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, around)
        return spec


def install() -> None:
    if "aiogram" in sys.modules or any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
