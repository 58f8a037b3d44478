"""`riskgen theme new`: a working theme file copied from a shipped template."""

from __future__ import annotations

import re
from pathlib import Path

from risk_models.themes import load_theme, template_path


def scaffold_theme(name: str, like: str, directory: Path) -> Path:
    """Write `<directory>/<name>.py`, a copy of the template with its name and titles replaced; refuse to overwrite."""
    if not name.isidentifier():
        raise ValueError(f"theme name {name!r} must be a Python identifier (letters, digits and _)")
    target = directory / f"{name}.py"
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another name or --dir")
    template = load_theme(like)
    source = template_path(like).read_text(encoding="utf-8")
    source = source.replace(f'name="{template.name}"', f'name="{name}"', 1)
    source = source.replace(f'title_zh="{template.title_zh}"', f'title_zh="{template.title_zh}（{name}）"', 1)
    source = source.replace(f'title_en="{template.title_en}"', f'title_en="{template.title_en} ({name})"', 1)
    header = (
        f'"""Theme {name}, scaffolded from the {like} template: edit the declarations below.\n\n'
        f"Check it with `riskgen theme check {target}`.\n"
    )
    source = re.sub(r'^"""', header, source, count=1)
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(source, encoding="utf-8")
    load_theme(target)  # the scaffold must load as written
    return target
