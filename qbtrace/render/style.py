"""Emphasis for the terminal, through click's styling: the cause in bold, the confidence in
a colour of its own. click.echo drops the escapes when the output is not a terminal, and the
CLI turns them off for NO_COLOR, so these are safe to use on every line we write."""

from __future__ import annotations

import re

import click

from qbtrace.rules import BY_CAUSE

CONFIDENCE_COLOUR = {"certain": "green", "likely": "yellow", "possible": "cyan"}
LIVE = re.compile(r"(?P<cause>\b[a-z_]+\b) \((?P<confidence>certain|likely|possible)\)")


def cause(name: str, colour: bool) -> str:
    fg = "red" if name == "unexplained" else None
    return click.style(name, bold=True, fg=fg) if colour else name


def confidence(level: str, colour: bool) -> str:
    return click.style(level, fg=CONFIDENCE_COLOUR.get(level)) if colour else level


def strong(text: str, colour: bool) -> str:
    return click.style(text, bold=True) if colour else text


def faint(text: str, colour: bool) -> str:
    return click.style(text, dim=True) if colour else text


def emphasise(line: str) -> str:
    """The first `cause (confidence)` of an already escaped line, styled."""
    found = LIVE.search(line)
    if found is None or found["cause"] not in BY_CAUSE:
        return line
    styled = f"{cause(found['cause'], True)} ({confidence(found['confidence'], True)})"
    return line[: found.start()] + styled + line[found.end() :]


def wrap(line: str, width: int | None, hang: int = 4) -> list[str]:
    """`line` wrapped to `width` at spaces only, so no tag (`rt:3fa9c2d1`), id, URL or time
    is ever split; continuation lines indented `hang` past the line's own indent. Widths
    count what the terminal shows (click's escapes take no room). No width (a pipe, a
    file): the line as it is, for grep."""
    if width is None or visible(line) <= width:
        return [line]
    width = max(width, 40)
    indent = len(line) - len(line.lstrip(" "))
    lead = " " * (indent + hang)
    out: list[str] = []
    current, shown = line[:indent], indent
    for gap, word in GAPS.findall(line[indent:]):
        size = visible(word)
        if shown > len(lead) and shown + len(gap) + size > width and current.strip():
            out.append(current)
            current, shown = lead + word, len(lead) + size
        else:
            current, shown = current + gap + word, shown + len(gap) + size
    out.append(current)
    return out


GAPS = re.compile(r"( *)(\S+)")


def visible(text: str) -> int:
    """Columns `text` takes on a terminal: its length without click's escapes."""
    return len(click.unstyle(text))
