"""Shipped thematic models, and loading a data scientist's own theme file by path."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from risk_models.spec import ThematicModelSpec

SHIPPED_THEMES: tuple[str, ...] = ("prepaid_cards", "illegal_fundraising", "fire_lanes")
TEMPLATE_THEME = "prepaid_cards"


class ThemeNotFound(LookupError):
    """No shipped theme of that name and no theme file at that path."""


def load_theme(name_or_path: str | Path) -> ThematicModelSpec:
    """A shipped theme by name, or the `SPEC` of a Python file (or of `theme.py` in a folder) by path."""
    path = Path(name_or_path)
    if path.suffix == ".py" or path.is_dir() or path.exists():
        return _load_file(path / "theme.py" if path.is_dir() else path)
    name = str(name_or_path)
    if name not in SHIPPED_THEMES:
        raise ThemeNotFound(
            f"no theme {name!r}: shipped themes are {list(SHIPPED_THEMES)}; "
            "or pass the path of your theme file (e.g. --theme my_themes/my_theme.py)"
        )
    return _spec_of(importlib.import_module(f"risk_models.themes.{name}"), name)


def shipped_themes() -> dict[str, ThematicModelSpec]:
    return {name: load_theme(name) for name in SHIPPED_THEMES}


def template_path(name: str = TEMPLATE_THEME) -> Path:
    if name not in SHIPPED_THEMES:
        raise ThemeNotFound(f"no template {name!r}; templates are {list(SHIPPED_THEMES)}")
    return Path(__file__).with_name(f"{name}.py")


def _load_file(path: Path) -> ThematicModelSpec:
    if not path.exists():
        raise ThemeNotFound(f"theme file {path} does not exist; create one with `riskgen theme new NAME`")
    module_name = f"riskgen_user_theme_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ThemeNotFound(f"{path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return _spec_of(module, str(path))


def _spec_of(module: object, where: str) -> ThematicModelSpec:
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, ThematicModelSpec):
        raise ThemeNotFound(f"{where} defines no `SPEC = ThematicModelSpec(...)`")
    return spec
