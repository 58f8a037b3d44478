"""A last check on pages served from run folders: any unmasked mobile or resident ID number left in them is masked.

Dossiers are masked when the nightly run writes them; this guard catches what slipped through (a phone number inside
an enterprise name, a file written by an older release). It only touches numbers shaped like a mobile number or like
an ID number with a valid GB 11643 check character, so credit codes and figures stay as they are.
"""

from __future__ import annotations

import re

from risk_models.pii import mask_id_number, mask_phone

_MOBILE = re.compile(r"(?<![\d*])1[3-9]\d{9}(?!\d)")
_ID = re.compile(r"(?<![0-9A-Za-z*])\d{17}[\dXx](?![0-9A-Za-z])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _is_id_number(text: str) -> bool:
    check = "10X98765432"[sum(int(c) * w for c, w in zip(text[:17], _WEIGHTS, strict=True)) % 11]
    return text[17].upper() == check


def _mask_id(match: re.Match[str]) -> str:
    value = match.group(0)
    return mask_id_number(value) if _is_id_number(value) else value


def guard_text(text: str) -> str:
    """Mask unmasked mobile numbers and checksum-valid ID numbers in a page."""
    return _MOBILE.sub(lambda m: mask_phone(m.group(0)), _ID.sub(_mask_id, text))


def guard_page(content: bytes) -> bytes:
    """`guard_text` over UTF-8 bytes (a page that is not UTF-8 is served as it is: it cannot be searched reliably)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content
    guarded = guard_text(text)
    return content if guarded == text else guarded.encode("utf-8")
