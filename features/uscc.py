"""Unified social credit codes (GB 32100-2015) and resident ID numbers (GB 11643).

Scalar helpers for generation and tests, and polars expressions for validating a million codes at once.
"""

from __future__ import annotations

import unicodedata

import polars as pl

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_PATTERN = f"^[{USCC_ALPHABET}]{{18}}$"

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def uscc_check_char(body17: str) -> str:
    """Return the check character for the first 17 characters of a credit code."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True when `code` is 18 allowed characters with a correct check character."""
    if len(code) != 18 or any(c not in USCC_VALUE for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def normalise_uscc(raw: str) -> str:
    """Fold full-width characters, drop white space and upper-case, as registries print codes."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(folded.split()).upper()


def id_check_char(body17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(c) * w for c, w in zip(body17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def is_valid_id_number(number: str) -> bool:
    """True when `number` is a well-formed 18-character resident ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    return id_check_char(number[:17]) == number[17].upper()


def uscc_normalise_expr(column: str) -> pl.Expr:
    """Polars version of `normalise_uscc` (full-width folding, white space removed, upper-case)."""
    full_width = "".join(chr(0xFF10 + i) for i in range(10)) + "".join(chr(0xFF21 + i) for i in range(26))
    full_width += "".join(chr(0xFF41 + i) for i in range(26))
    half_width = "0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    expr = pl.col(column).str.replace_all(r"[\s\u3000]+", "")
    expr = expr.str.replace_many(list(full_width), list(half_width))
    return expr.str.to_uppercase()


def uscc_problem_expr(column: str) -> pl.Expr:
    """Reason code for a normalised credit code, or null when the code is valid.

    Distinguishes the failures a registry feed actually shows, so the quarantine tells the data owner what to fix.
    """
    code = pl.col(column)
    checksum_ok = _uscc_check_expr(column) == code.str.slice(17, 1)
    return (
        pl.when(code.is_null() | (code == ""))
        .then(pl.lit("uscc_missing"))
        .when(code.str.contains(r"^\d(\.\d+)?E\+?\d+$"))
        .then(pl.lit("uscc_scientific_notation"))
        .when(code.str.contains(r"^\d{15}$"))
        .then(pl.lit("uscc_old_registration_number"))
        .when(code.str.len_chars() != 18)
        .then(pl.lit("uscc_wrong_length"))
        .when(~code.str.contains(USCC_PATTERN))
        .then(pl.lit("uscc_forbidden_character"))
        .when(~checksum_ok)
        .then(pl.lit("uscc_bad_checksum"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def _uscc_check_expr(column: str) -> pl.Expr:
    """Expected check character computed from the first 17 characters (valid only for allowed characters)."""
    values = [
        pl.col(column).str.slice(i, 1).replace_strict(USCC_VALUE, default=0, return_dtype=pl.Int64) * w
        for i, w in enumerate(USCC_WEIGHTS)
    ]
    remainder = (31 - pl.sum_horizontal(values) % 31) % 31
    return remainder.replace_strict(dict(enumerate(USCC_ALPHABET)), return_dtype=pl.String)
