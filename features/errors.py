"""Errors that stop a run, each naming the file, the column and the fix."""

from __future__ import annotations

from pathlib import Path


class BlockingFailure(Exception):
    """A delivery problem that must stop the run rather than be quarantined row by row.

    Attributes:
        table: contract name.
        path: the delivered file (or folder) at fault.
        code: stable machine-readable reason (e.g. `missing_columns`, `empty_file`).
        problem: what is wrong, in plain words.
        fix: what the data owner should do.
        column: the column at fault, where there is one.
    """

    def __init__(
        self, table: str, path: Path | None, code: str, problem: str, fix: str, column: str | None = None
    ) -> None:
        self.table = table
        self.path = path
        self.code = code
        self.problem = problem
        self.fix = fix
        self.column = column
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.path}" if self.path else f"table {self.table}"
        column = f", column {self.column!r}" if self.column else ""
        return f"[{self.code}] {where}{column}: {self.problem}. Fix: {self.fix}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "table": self.table,
            "path": str(self.path) if self.path else None,
            "code": self.code,
            "column": self.column,
            "problem": self.problem,
            "fix": self.fix,
        }
