"""The local stack's processes leave ``rfc3987_syntax``'s parsers unbuilt until an IRI is checked
(devstack/deferred.py), and a check answers as it did."""

from __future__ import annotations

import json
import subprocess
import sys

from devstack.local import PROJECT

CHECKS = [
    ("iri", "http://example.com/a b"),
    ("iri", "http://exämple.com/ä?q=1#f"),
    ("iri", "no scheme"),
    ("iri-reference", "//host/path"),
    ("iri-reference", "a b"),
]


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def answers(first: str) -> dict:
    return json.loads(
        run(
            f"{first}\n"
            "import json, sys\n"
            "import moto.cloudformation\n"
            "from jsonschema import FormatChecker\n"
            "built = 'rfc3987_syntax.syntax_helpers' in sys.modules\n"
            "checker = FormatChecker()\n"
            f"checks = [checker.conforms(value, kind) for kind, value in {CHECKS!r}]\n"
            "print(json.dumps({'built': built, 'checks': checks}))\n"
        )
    )


def test_moto_starts_without_building_the_iri_parsers_and_iris_are_checked_as_before():
    deferred = answers("import devstack.local")
    assert deferred["built"] is False  # jsonschema on its own builds them on import
    # As rfc3987_syntax answers when imported by jsonschema itself.
    assert deferred["checks"] == [False, True, False, True, False]
