"""Sizes as people read them: exact, so two different sizes never read the same."""

from __future__ import annotations

KIB = 1024
MIB = 1024 * 1024


def format_size(size: int) -> str:
    """A byte count in Chinese: whole KB or MB as such (4 KB, 100 MB), anything else exactly in bytes.

    "1,073,742,336 字节（约 1024.00 MB）" and "1024 MB" differ, as the sizes do; a rounded figure is
    shown only beside the exact one.
    """
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MB"
    if KIB <= size < MIB and size % KIB == 0:
        return f"{size // KIB} KB"
    if size >= MIB:
        return f"{size:,} 字节（约 {size / MIB:.2f} MB）"
    if size >= KIB:
        return f"{size:,} 字节（约 {size / KIB:.1f} KB）"
    return f"{size:,} 字节"
