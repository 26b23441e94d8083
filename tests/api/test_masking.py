"""Masking: property tests against the plain rule (keep the first 3 and last 4 of 8+ digit numbers)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_brain.api.masking import mask_phone, mask_text, mask_value

numbers = st.from_regex(r"\+?[0-9]{3,20}", fullmatch=True)


@given(numbers)
@settings(max_examples=200, deadline=None)
def test_mask_phone_hides_the_middle(number: str) -> None:
    masked = mask_phone(number)
    if len(number) >= 8:
        assert masked == number[:3] + "****" + number[-4:]
        assert number not in masked
    else:
        assert masked.endswith(number[-2:]) and set(masked[:-2]) <= {"*"} and len(masked) == len(number)


def _reference_mask_text(text: str) -> str:
    """Walk the text by hand: each maximal run of 7+ digits (with a '+' just before it) goes through mask_phone."""
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j].isdigit():
            j += 1
        if j - i >= 7:
            plus = bool(out) and out[-1] == "+"
            if plus:
                out.pop()
            out.append(mask_phone(("+" if plus else "") + text[i:j]))
            i = j
        elif j > i:
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@given(
    st.lists(st.one_of(numbers, st.text(alphabet="abc ,.:-+", max_size=8)), max_size=8),
    st.sampled_from([" ", "", "+"]),
)
@settings(max_examples=300, deadline=None)
def test_mask_text_matches_a_hand_walk(parts: list[str], glue: str) -> None:
    text = glue.join(parts)
    masked = mask_text(text)
    assert masked == _reference_mask_text(text)
    assert re.search(r"\d{7,}", masked) is None


def test_mask_value_walks_nested_payloads() -> None:
    payload = {"victim": "13800000001", "n": 3, "calls": [{"from": "+8617000000002"}], "t": ("13900000003",)}
    assert mask_value(payload) == {
        "victim": "138****0001", "n": 3, "calls": [{"from": "+86****0002"}], "t": ["139****0003"],
    }
