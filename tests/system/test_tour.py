"""The README's tour, run as a reader runs it: its shell blocks, in order, in one bash process,
against a local stack started as ``make run`` starts it.

A block runs when it is a ```sh block on the line right after ``<!-- tour -->``: every such block
of README.md first, then those of docs/*.md, page by page in name order. Each ``# prints X``
comment in a block says that the block's output contains X; the test holds the docs to it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from devstack.local import PROJECT

MARK = "<!-- tour -->"
BLOCK = re.compile(r"^<!-- tour -->\n```sh\n(.*?)^```[ \t]*$", re.S | re.M)
PRINTS = re.compile(r"#\s*prints\s+(.+?)\s*$", re.M)
END = "@@ tour: end of block {}"


def pages() -> list[Path]:
    return [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]


def tour_blocks() -> list[tuple[str, str]]:
    """(where, code) of every block to run, in the order they run."""
    blocks = []
    for page in pages():
        text = page.read_text()
        found = BLOCK.findall(text)
        where = page.relative_to(PROJECT)
        assert len(found) == text.count(MARK), f"{where}: a {MARK} line not followed by a sh block"
        blocks += [(f"{where}, tour block {n}", code) for n, code in enumerate(found, 1)]
    return blocks


def script(blocks: list[tuple[str, str]]) -> str:
    lines = ["exec 2>&1", "set -euo pipefail"]
    for number, (_, code) in enumerate(blocks):
        lines += [code.rstrip("\n"), f"printf '\\n{END.format(number)}\\n'"]
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
    readme = [where for where, _ in tour_blocks() if where.startswith("README.md")]
    assert len(readme) >= 5


def test_the_tour_runs_as_written(stack_file, tmp_path):
    facts_file = stack_file
    blocks = tour_blocks()
    home = tmp_path / "home"  # the tour writes into ~/.aws: a home of its own, not the real one
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        HOME=str(home),
        STACK_FILE=str(facts_file),
        PATH=f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    path = tmp_path / "tour.sh"
    path.write_text(script(blocks))
    done = subprocess.run(
        ["bash", str(path)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    finished, rest = split(done.stdout, len(blocks))
    for (where, code), output in zip(blocks, finished, strict=False):
        for expected in PRINTS.findall(code):
            assert expected in output, f"{where} should print {expected}:\n{code}\n---\n{output}"
    if len(finished) < len(blocks) or done.returncode != 0:
        where, code = blocks[min(len(finished), len(blocks) - 1)]
        pytest.fail(f"{where} failed (exit {done.returncode}):\n{code}\n--- its output\n{rest}")

    # The config went to a file of its own; the reader's ~/.aws/config was never written.
    assert "role_session_name = pete" in (home / ".aws" / "config.iam-lifecycle").read_text()
    assert not (home / ".aws" / "config").exists()
