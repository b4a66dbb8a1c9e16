"""Human-readable numbers shared by the CLI and the GUI, so both print the same thing."""

from __future__ import annotations

import math


def thousands(n: int) -> str:
    return f"{n:,}"


def si(n: float, unit: str = "") -> str:
    """1234567 -> '1.23 M' (decimal prefixes, as FLOPs and parameter counts are usually quoted)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {prefix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def nbytes(n: float) -> str:
    """Binary prefixes for memory: 1536 -> '1.5 KiB'."""
    for factor, prefix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(n) >= factor:
            return f"{n / factor:.1f} {prefix}"
    return f"{n:.0f} B"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 batch', '40 batches': a count with its noun in the right number."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def shape(dims: tuple[int, ...] | list[int]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def signed(n: int) -> str:
    """A difference with its sign and thousands separators: 590080 -> '+590,080', 0 -> '0'."""
    return f"{n:+,}" if n else "0"


def signed_si(n: float, unit: str = "") -> str:
    """A difference in SI units with its sign: 1.85e9 -> '+1.85 GFLOP'."""
    return ("+" if n > 0 else "") + si(n, unit)


def signed_nbytes(n: float) -> str:
    """A memory difference with its sign: 1536 -> '+1.5 KiB'."""
    return ("+" if n > 0 else "") + nbytes(n)


def percent_change(delta: float, base: float) -> str:
    """`delta` as a signed share of `base` with two significant digits ('+0.14%', '+49%'); '' if base is 0."""
    if not base:
        return ""
    pct = 100 * delta / base
    if pct == 0:
        return "0%"
    digits = 2 if abs(pct) < 1 else 1 if abs(pct) < 10 else 0
    return f"{pct:+.{digits}f}%"


def format_duration(seconds: float) -> str:
    """Elapsed time or ETA as h:mm:ss or m:ss; '?' for a value not measured yet (NaN, negative, infinite)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
