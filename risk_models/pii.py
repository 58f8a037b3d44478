"""Masking of personal information for dossiers, lists and exports.

DOMAIN.md: ID numbers and phone numbers are sensitive and are only ever shown masked (`110105********002X`,
`138****8000`). Masking errs on the side of hiding: a malformed ID keeps fewer characters, never more, and free text
is scanned for anything that looks like an ID number, a bank-card-like digit run, a mobile or landline number or an
e-mail address. Python's `\\d` matches every Unicode decimal digit, so full-width digits (`１３８…`) are caught too.
"""

from __future__ import annotations

import re
import unicodedata

MASK = "*"

# An 18-character ID (17 digits + digit/X) or a 15-digit old ID, optionally written in 6-8-4 groups; also catches
# bank-card numbers and any longer digit run. Only digits bound a match, so "Tel13800138000" is caught; a credit code
# quoted in free text may lose a digit run to the mask too, which is the safe side to err on.
_LONG_NUMBER = re.compile(
    r"(?<!\d)\d{6}[ \-]?\d{8}[ \-]?\d{3}[\dXx](?!\d)"
    r"|(?<!\d)\d{15,}[Xx]?(?!\d)"
)
# A mainland mobile number, optionally +86/86-prefixed and written in 3-4-4 groups.
_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[ \-]?)?\d{3}[ \-]?\d{4}[ \-]?\d{4}(?!\d)")
# A landline with an area code: 0571-82345678, (0571)8234567.
_LANDLINE = re.compile(r"(?<!\d)\(?0\d{2,3}\)?[ \-]?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def _digits(text: str) -> str:
    """The digits of `text` as ASCII (full-width digits included) and any X, with separators removed."""
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() else c.upper() for c in text if c.isdecimal() or c in "Xx"
    )


def mask_id_number(value: str | None) -> str:
    """Mask a resident ID number: `110105199001010028` -> `110105********0028`.

    An 18-character ID keeps the 6-digit division and the last 4 characters; a 15-digit old ID keeps 6 and 3. Anything
    else (wrong length, stray characters) is masked whole except its last 2 characters, so a malformed number never
    shows its birth date. Empty or missing values give "".
    """
    if value is None:
        return ""
    text = str(value).strip().replace(" ", "").replace("-", "").upper()
    if not text:
        return ""
    if len(text) == 18:
        return text[:6] + MASK * 8 + text[-4:]
    if len(text) == 15:
        return text[:6] + MASK * 6 + text[-3:]
    if len(text) <= 4:
        return MASK * len(text)
    return MASK * (len(text) - 2) + text[-2:]


def mask_phone(value: str | None) -> str:
    """Mask a phone number: `13800138000` -> `138****8000`; `0571-82345678` -> `0571-****5678`.

    A mobile number (with or without +86) keeps its first 3 and last 4 digits; a landline keeps its area code and last
    4 digits; anything shorter than 7 digits is masked whole.
    """
    if value is None:
        return ""
    text = str(value).strip()
    digits = _digits(text)
    if not digits:
        return ""
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11 and digits[0] != "0":
        return digits[:3] + MASK * 4 + digits[-4:]
    if digits[0] == "0" and 10 <= len(digits) <= 12:
        area = 3 if digits[1] in "12" else 4  # 010, 02x are 3-digit area codes; the rest have 4
        return digits[:area] + "-" + MASK * (len(digits) - area - 4) + digits[-4:]
    if len(digits) < 7:
        return MASK * len(digits)
    return MASK * (len(digits) - 4) + digits[-4:]


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group(0).partition("@")
    return local[:1] + MASK * 3 + "@" + domain


def mask_text(text: str | None) -> str:
    """Mask every ID number, long digit run, phone number and e-mail address inside free text.

    >>> mask_text("联系人电话13800138000，身份证110105199001010028")
    '联系人电话138****8000，身份证110105********0028'
    """
    if not text:
        return ""
    masked = _LONG_NUMBER.sub(lambda m: mask_id_number(_digits(m.group(0))), text)
    masked = _MOBILE.sub(lambda m: mask_phone(m.group(0)), masked)
    masked = _LANDLINE.sub(lambda m: mask_phone(m.group(0)), masked)
    return _EMAIL.sub(_mask_email, masked)
