"""Masking of phone numbers for agents who have not claimed the case: ``138****0001``.

>>> mask_phone("13800000001")
'138****0001'
>>> mask_text("victim 13800000001 called by +8617099998888")
'victim 138****0001 called by +86****8888'
"""

from __future__ import annotations

import re
from typing import Any

_DIGIT_RUN = re.compile(r"\+?\d{7,}")


def mask_phone(number: str) -> str:
    """The number with its middle digits hidden; short numbers keep only their last two digits.

    >>> mask_phone("+8613800000001"), mask_phone("110"), mask_phone("")
    ('+86****0001', '*10', '')
    """
    if len(number) >= 8:
        return number[:3] + "****" + number[-4:]
    if len(number) <= 2:
        return "*" * len(number)
    return "*" * (len(number) - 2) + number[-2:]


def mask_text(text: str) -> str:
    """Every run of seven or more digits in ``text`` masked (numbers inside sentences, payloads).

    >>> mask_text("no numbers here, amount 500")
    'no numbers here, amount 500'
    """
    return _DIGIT_RUN.sub(lambda m: mask_phone(m.group(0)), text)


def mask_value(value: Any) -> Any:
    """``value`` with :func:`mask_text` applied to every string inside it (dicts, lists, tuples).

    >>> mask_value({"victim": "13800000001", "attempt": 2, "reasons": ["call from 17012345678"]})
    {'victim': '138****0001', 'attempt': 2, 'reasons': ['call from 170****5678']}
    """
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value
