"""Sizes for people: one rendering of byte counts for every table and report."""

from __future__ import annotations


def format_bytes(size: int | None) -> str:
    """Render a byte count with a binary unit (4.0 KiB, 12.5 MiB); "" when unknown."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
