"""A small Dockerfile parser for the image rules in test_dockerfiles.py (no engine needed)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    cmd: str                 # upper-case instruction, e.g. "RUN"
    args: str                # the rest, continuation lines joined
    flags: list[tuple[str, str]]  # leading --name=value options (RUN --mount, COPY --from, ...)
    line: int

    def flag(self, name: str) -> str | None:
        return next((value for key, value in self.flags if key == name), None)

    def exec_form(self) -> list[str] | None:
        """The JSON array form of CMD/ENTRYPOINT/SHELL, or None for the shell form."""
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped by Docker
        if not buf:
            start = number
        if "<<" in stripped and re.search(r"<<-?['\"]?[A-Za-z_]+", stripped) and stripped.split()[0].upper() in (
                "RUN", "COPY"):
            raise ValueError(f"line {number}: heredocs are not supported by this parser")
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        out.append((start, buf))
        buf = ""
    if buf:
        raise ValueError("the last instruction ends with a line continuation")
    return out


def parse(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line, text in _logical_lines(Path(path).read_text(encoding="utf-8")):
        cmd, _, rest = text.partition(" ")
        cmd = cmd.upper()
        rest = rest.strip()
        flags: list[tuple[str, str]] = []
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            flags.append((name, value))
            rest = rest.strip()
        if cmd == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            if len(parts) not in (1, 3):
                raise ValueError(f"line {line}: FROM {rest}")
            stages.append(Stage(base=parts[0], name=name, line=line))
            continue
        if not stages:
            if cmd == "ARG":
                continue
            raise ValueError(f"line {line}: {cmd} before the first FROM")
        stages[-1].instructions.append(Instruction(cmd, rest, flags, line))
    return stages


def copy_sources(instruction: Instruction) -> tuple[list[str], str]:
    """(sources, destination) of a COPY/ADD instruction."""
    parts = instruction.exec_form() or shlex.split(instruction.args)
    return parts[:-1], parts[-1]


def mount_options(instruction: Instruction) -> list[dict[str, str]]:
    """The --mount options of a RUN instruction, as dicts."""
    mounts = []
    for key, value in instruction.flags:
        if key == "mount":
            mounts.append(dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in value.split(",")))
    return mounts


def apt_installed_packages(run_args: str) -> list[str]:
    """Package names given to `apt-get install` (or apt install) in a RUN command."""
    packages = []
    for command in re.split(r"&&|;|\|\|", run_args):
        words = command.split()
        for i, word in enumerate(words):
            if word in ("apt-get", "apt") and "install" in words[i + 1:]:
                for arg in words[words.index("install", i) + 1:]:
                    if not arg.startswith("-"):
                        packages.append(arg.split("=")[0])
                break
    return packages
