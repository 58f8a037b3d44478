"""Credit-code (GB 32100) and ID-number (GB 11643) checks, scalar and vectorised."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from features.uscc import (
    USCC_ALPHABET,
    is_valid_id_number,
    is_valid_uscc,
    normalise_uscc,
    uscc_check_char,
    uscc_normalise_expr,
    uscc_problem_expr,
)

bodies = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


def problems(codes: list[str]) -> list[str | None]:
    frame = pl.DataFrame({"uscc": codes})
    return frame.select(uscc_problem_expr("uscc")).to_series().to_list()


def test_published_example_is_valid() -> None:
    assert is_valid_uscc("91110000600037341L")
    assert uscc_check_char("91110000600037341") == "L"


def test_weights_follow_the_standard() -> None:
    from features.uscc import USCC_WEIGHTS

    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@given(bodies)
def test_a_body_with_its_check_character_is_valid(body: str) -> None:
    assert is_valid_uscc(body + uscc_check_char(body))


@given(bodies, st.integers(0, 16), st.sampled_from(USCC_ALPHABET))
def test_any_single_substitution_is_detected(body: str, position: int, replacement: str) -> None:
    code = body + uscc_check_char(body)
    changed = code[:position] + replacement + code[position + 1 :]
    assert is_valid_uscc(changed) == (changed == code)


@given(st.lists(st.text(alphabet=USCC_ALPHABET + "IOSVZ", min_size=18, max_size=18), min_size=1, max_size=20))
def test_vectorised_check_agrees_with_the_scalar_one(codes: list[str]) -> None:
    assert [p is None for p in problems(codes)] == [is_valid_uscc(c) for c in codes]


def test_problem_codes_name_what_the_sender_did_wrong() -> None:
    valid = "91110000600037341L"
    codes = [valid, valid[:-1] + "M", valid[:17], "91110000600037341O", "9.13301E+17", "330109000012345", ""]
    assert problems(codes) == [
        None,
        "uscc_bad_checksum",
        "uscc_wrong_length",
        "uscc_forbidden_character",
        "uscc_scientific_notation",
        "uscc_old_registration_number",
        "uscc_missing",
    ]


def test_normalisation_folds_full_width_lower_case_and_spaces() -> None:
    raw = [
        "９１１１００００６０００３７３４１ｌ",
        " 91110000600037341l ",
        "9111 0000 6000 3734 1L",
        "91110000600037341L",
    ]
    expected = "91110000600037341L"
    assert {normalise_uscc(r) for r in raw} == {expected}
    frame = pl.DataFrame({"uscc": raw}).select(uscc_normalise_expr("uscc"))
    assert frame.to_series().to_list() == [expected] * 4


def test_resident_id_check() -> None:
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("1101051949123100")
