"""Every page's shell blocks, run as a reader runs them: in order, in one bash process per page,
against a local stack started as ``make run`` starts it.

Every ```sh (or bash, shell) block of README.md and docs/*.md carries one of two marks on the
line before it:

- ``<!-- tour -->``: it runs. A page's marked blocks run in order, after the README's first
  block (the variables every page says it uses: ``fact``, ``URL``, ``H``), in a folder of their
  own (files a page saves, and its ``~/.aws``, land there, never in the repository) with the
  project's files beside them. Each ``# prints X`` comment in a block says that the block's
  output contains X; the test holds the docs to it.
- ``<!-- not run: why -->``: it cannot run on the local stack (a real ``chalice deploy``);
  each such block is reported as a skipped test with its reason, so none is left out silently.

Pages follow each other on one stack, as a reader who reads them in order does: each uses its
own people and tickets, starts at the real time, and a page that moves the clock puts it back.
A ```python block marked ``<!-- file: NAME -->`` is a file the page saves and runs; it passes
``make lint``'s ruff as it stands.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.local import PROJECT

RUN = "<!-- tour -->"
NOT_RUN = re.compile(r"^<!-- not run: (.+?) -->$")
SAVED = re.compile(r"^<!-- file: ([\w.-]+) -->$")
FENCE = re.compile(r"^```([\w-]*)[ \t]*$")
SHELL = {"sh", "bash", "shell"}
PRINTS = re.compile(r"#\s*prints\s+(.+?)\s*$", re.M)
END = "@@ tour: end of block {}"


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    mark: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of the page with the line before it (its mark, if any)."""
    lines = page.read_text().splitlines()
    found, number = [], 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        end = next(n for n in range(number + 1, len(lines)) if lines[n].startswith("```"))
        mark = lines[number - 1].strip() if number else ""
        found.append(
            Block(
                page=str(page.relative_to(PROJECT)),
                line=number + 1,
                language=opening.group(1),
                mark=mark,
                code="\n".join(lines[number + 1 : end]) + "\n",
            )
        )
        number = end + 1
    return found


def every_block() -> list[Block]:
    return [block for page in pages() for block in blocks_of(page)]


def runnable(page: str) -> list[Block]:
    return [b for b in every_block() if b.page == page and b.mark == RUN]


def pages_that_run() -> list[str]:
    return sorted(
        {b.page for b in every_block() if b.mark == RUN}, key=lambda p: (p != "README.md", p)
    )


def not_run() -> list[Block]:
    return [b for b in every_block() if NOT_RUN.match(b.mark)]


def test_every_shell_block_runs_or_says_why_not():
    unmarked = [
        b.where
        for b in every_block()
        if b.language in SHELL and b.mark != RUN and not NOT_RUN.match(b.mark)
    ]
    assert not unmarked, f"shell blocks with neither {RUN} nor <!-- not run: why -->: {unmarked}"
    for page in pages():
        text = page.read_text()
        marked = [b for b in blocks_of(page) if b.mark == RUN or NOT_RUN.match(b.mark)]
        where = page.relative_to(PROJECT)
        assert all(b.language in SHELL for b in marked), f"{where}: a mark on a block not sh"
        assert len(marked) == text.count(RUN) + len(re.findall(r"<!-- not run:", text)), (
            f"{where}: a mark not on the line right before a sh block"
        )


@pytest.mark.parametrize("block", not_run(), ids=lambda b: b.where)
def test_a_block_not_run_locally(block):
    pytest.skip(f"{block.where} not run: {NOT_RUN.match(block.mark).group(1)}")  # type: ignore[union-attr]


def test_the_files_pages_save_pass_the_projects_lint():
    saved = [b for b in every_block() if SAVED.match(b.mark)]
    assert saved, "the callbacks page's receiver.py"
    ruff = PROJECT / ".venv" / "bin" / "ruff"
    for block in saved:
        name = SAVED.match(block.mark).group(1)  # type: ignore[union-attr]
        for command in (["check"], ["format", "--check"]):
            done = subprocess.run(
                [str(ruff), *command, "--stdin-filename", name, "-"],
                cwd=PROJECT,
                input=block.code,
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, f"{block.where} ({name}): ruff {command}\n{done.stdout}"


def test_the_docs_use_one_pair_of_variables_and_never_overwrite_a_config():
    """What readers tripped on: names never defined, and a config emptied by a failed request."""
    for page in [*pages(), PROJECT / "CONTRIBUTING.md"]:
        text = page.read_text()
        where = page.relative_to(PROJECT)
        for wrong in ("$API", "${API", "$AUTH", "${AUTH", "tests.stack", "tests/stack"):
            assert wrong not in text, f"{where} uses {wrong}"
        assert not re.search(r"(>|-o)\s*(~|\$HOME)/\.aws/config(?![\w.-])", text), (
            f"{where} writes over ~/.aws/config"
        )


def test_the_readme_has_a_tour():
    assert len(runnable("README.md")) >= 5


def script(blocks: list[Block]) -> str:
    lines = ["exec 2>&1", "set -euo pipefail"]
    for number, block in enumerate(blocks):
        lines += [block.code.rstrip("\n"), f"printf '\\n{END.format(number)}\\n'"]
    return "\n".join(lines) + "\n"


def split(output: str, count: int) -> tuple[list[str], str]:
    """The outputs of the blocks that finished, in order, and what was printed after them."""
    finished: list[str] = []
    for number in range(count):
        head, sep, rest = output.partition(f"\n{END.format(number)}\n")
        if not sep:
            break
        finished.append(head)
        output = rest
    return finished, output


def a_folder_of_its_own(folder: Path) -> Path:
    """The project's files, linked; what the page writes stays here."""
    folder.mkdir()
    for entry in PROJECT.iterdir():
        if entry.name not in (".local", ".git"):
            (folder / entry.name).symlink_to(entry)
    (folder / "home").mkdir()
    return folder


def clock_offset(facts: dict) -> float:
    path = Path(facts["clock_file"])
    return json.loads(path.read_text())["offset_seconds"] if path.exists() else 0.0


def set_clock_offset(facts: dict, seconds: float) -> None:
    Path(facts["clock_file"]).write_text(json.dumps({"offset_seconds": seconds}) + "\n")


@pytest.mark.parametrize("page", pages_that_run())
def test_the_tour_runs_as_written(page, stack, tmp_path):
    blocks = runnable(page)
    setup = [] if page == "README.md" else runnable("README.md")[:1]
    folder = a_folder_of_its_own(tmp_path / "run")
    facts_file = tmp_path / "stack.json"
    facts_file.write_text(json.dumps(stack))
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        HOME=str(folder / "home"),
        STACK_FILE=str(facts_file),
        PATH=f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    (folder / "page.sh").write_text(script(setup + blocks))
    for block in blocks_of(PROJECT / page):  # the files the page says to save, saved
        if saved := SAVED.match(block.mark):
            (folder / saved.group(1)).write_text(block.code)
    set_clock_offset(stack, 0)  # every page starts at the real time
    started = time.monotonic()
    # Output to a file: a block's background process (a receiver) keeps a pipe open.
    with (tmp_path / "output").open("w") as out:
        process = subprocess.Popen(
            ["bash", "page.sh"],
            cwd=folder,
            env=env,
            stdout=out,
            start_new_session=True,  # what a page starts in the background ends with it
        )
    try:
        process.wait(timeout=600)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        process.wait()
    output = (tmp_path / "output").read_text()
    print(f"{page}: {len(blocks)} blocks in {time.monotonic() - started:.1f} s")
    moved = clock_offset(stack)
    set_clock_offset(stack, 0)

    finished, rest = split(output, len(setup) + len(blocks))
    finished = finished[len(setup) :]
    for block, said in zip(blocks, finished, strict=False):
        for expected in PRINTS.findall(block.code):
            assert expected in said, (
                f"{block.where} should print {expected}:\n{block.code}---\n{said}"
            )
    if len(finished) < len(blocks) or process.returncode != 0:
        block = blocks[min(len(finished), len(blocks) - 1)]
        pytest.fail(
            f"{block.where} failed (exit {process.returncode}):\n{block.code}--- its output\n{rest}"
        )
    assert moved == 0, f"{page} leaves the clock {moved} s ahead: end it with `clock reset`"

    if page == "README.md":
        # The config went to a file of its own; the reader's ~/.aws/config was never written.
        home = folder / "home"
        assert "role_session_name = pete" in (home / ".aws" / "config.iam-lifecycle").read_text()
        assert not (home / ".aws" / "config").exists()
