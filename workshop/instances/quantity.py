"""Kubernetes resource quantities, exactly: "16Gi", "500m", "1e3".

Graders compare what a learner wrote with what an exercise asks (`16000m` == `16`,
`65536Mi` == `64Gi`), and the catalog prints memory as kwok will; both need the API's
own arithmetic, with no float rounding. Pure stdlib.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_QUANTITY = re.compile(r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)|([a-zA-Z]*))")
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity string ("16Gi" -> 17179869184, "500m" -> 1/2)."""
    value, _ = _parse_quantity(text)
    return value


def _parse_quantity(text: str) -> tuple[Fraction, str]:
    m = _QUANTITY.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    sign, number, exponent, suffix = m.groups()
    value = Fraction(number)
    if exponent is not None:
        value, fmt = value * Fraction(10) ** int(exponent), "DecimalExponent"
    elif suffix in _DECIMAL_EXPONENTS:
        value, fmt = value * Fraction(10) ** _DECIMAL_EXPONENTS[suffix], "DecimalSI"
    elif suffix in _BINARY_SUFFIXES:
        value, fmt = value * 1024 ** _BINARY_SUFFIXES.index(suffix), "BinarySI"
    else:
        raise ValueError(f"{text!r} has an unknown suffix {suffix!r}")
    return (-value if sign == "-" else value), fmt


def quantity_or_zero(text: str | None) -> Fraction:
    """A quantity the cluster reported (a limit, a pool's usage): unset or unreadable is 0."""
    try:
        return parse_quantity(str(text or "0"))
    except ValueError:
        return Fraction(0)


def show_quantity(resource: str, value: Fraction) -> str:
    """8 for CPU and GPUs, 16Gi for memory: how a pool's usage and limits are shown."""
    if resource == "memory":
        return f"{float(value / 2**30):g}Gi"
    return f"{float(value):g}"


def canonical_quantity(text: str) -> str:
    """`text` as Kubernetes' Quantity.String() prints it, e.g. "1024Mi" -> "1Gi", "4000m" -> "4".

    kwok's instance-cpu/-memory labels are exactly this string, so a hand-edited JSON with
    "16384Mi" still yields the label value "16Gi".
    """
    value, fmt = _parse_quantity(text)
    if value == 0:
        return "0"
    sign, value = ("-" if value < 0 else ""), abs(value)
    # Binary form only for whole byte counts of at least 1Ki, as in CanonicalizeBytes.
    if fmt == "BinarySI" and value >= 1024 and value.denominator == 1:
        number, power = int(value), 0
        while power < len(_BINARY_SUFFIXES) - 1 and number % 1024 == 0:
            number, power = number // 1024, power + 1
        return f"{sign}{number}{_BINARY_SUFFIXES[power]}"
    # Decimal: whole mantissa (rounded up to nano precision) times 10^(3k), largest k.
    mantissa, exponent = math.ceil(value * 10**9), -9
    while exponent < 18 and mantissa % 1000 == 0:
        mantissa, exponent = mantissa // 1000, exponent + 3
    if fmt == "DecimalExponent":
        suffix = f"e{exponent}" if exponent else ""
    else:
        suffix = next(s for s, e in _DECIMAL_EXPONENTS.items() if e == exponent)
    return f"{sign}{mantissa}{suffix}"


def memory_quantity(memory_mib: int) -> str:
    """A MiB count as the canonical quantity kwok will print: 16384 -> "16Gi", 1179648 -> "1152Gi"."""
    return canonical_quantity(f"{memory_mib}Mi")
