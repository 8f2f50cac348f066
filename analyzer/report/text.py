"""Small pieces of text the report formats share."""

from __future__ import annotations


def frames_text(frames: list[int], limit: int = 8) -> str:
    """`` [3,5,8]``: the frames that prove a verdict, cut after ``limit`` (empty without frames)."""
    if not frames:
        return ""
    shown = ",".join(str(f) for f in frames[:limit])
    return f" [{shown}{',...' if len(frames) > limit else ''}]"
