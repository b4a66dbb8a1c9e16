"""Human-readable numbers shared by the CLI and the GUI, so both print the same thing."""

from __future__ import annotations


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


def shape(dims: tuple[int, ...] | list[int]) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"
