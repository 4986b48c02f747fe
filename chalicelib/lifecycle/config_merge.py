"""A POSIX sh snippet that merges a person's profiles into their existing ``~/.aws/config``.

What it does, in order: takes the file the AWS CLI reads (``$AWS_CONFIG_FILE``, else
``~/.aws/config``; created if missing), copies it to ``<file>.bak.<timestamp>`` first, then drops
the block it wrote last time (between its two marker lines), every other section named like one
of the profiles it writes (so a profile pasted by hand is replaced, not doubled) and every
section of ``remove`` (the profiles a move made useless), and appends the new block at the end.
Every other section, setting, comment and blank line stays as it was; comments just above a
dropped section's end (those that lead into the next section) stay too. Running it twice gives
the same file.

Everything it writes comes from quoted here-documents (no expansion, no quoting to get wrong:
names may hold ``+=,.@-``); the merge itself is one awk program, which every POSIX system has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A section header of the config text: "[profile NAME]" (or "[default]", never written here).
_HEADER = re.compile(r"^\[\s*(.+?)\s*\]\s*$")
_EOF = "IAM_LIFECYCLE_EOF"

# Reads the marker lines and the section names to drop (first file), then the config (second).
_AWK = r"""
FNR == NR {
    if (FNR == 1) begin = $0
    else if (FNR == 2) end = $0
    else drop[$0] = 1
    next
}
function header(line,    h) {
    h = line
    sub(/^[ \t]*\[[ \t]*/, "", h)
    sub(/[ \t]*\].*$/, "", h)
    gsub(/[ \t]+/, " ", h)
    return h
}
function flush() { printf "%s", held; held = "" }
inblock { if ($0 == end) inblock = 0; next }
$0 == begin { if (skipping) flush(); skipping = 0; inblock = 1; next }
/^[ \t]*\[/ {
    if (skipping) flush()
    held = ""
    h = header($0)
    skipping = (h in drop)
    if (!skipping) print
    next
}
skipping {
    if ($0 ~ /^[ \t]*([#;].*)?$/) held = held $0 "\n"
    else held = ""
    next
}
{ print }
END { if (skipping) flush() }
"""


def section_names(config: str) -> list[str]:
    """The section headers of ``config`` as the merge compares them (``profile NAME``)."""
    names = []
    for line in config.splitlines():
        found = _HEADER.match(line.strip())
        if found:
            names.append(" ".join(found.group(1).split()))
    return names


def merge_snippet(
    username: str, config: str, remove: Iterable[str] = (), *, app_name: str = "iam-lifecycle"
) -> str:
    """The snippet that merges ``config`` (profiles of ``username``) into ``~/.aws/config`` and
    deletes the profiles named in ``remove``."""
    for line in config.splitlines():
        if line == _EOF:  # cannot come from the generated config; refused rather than cut short
            raise ValueError("the config holds the here-document delimiter")
    begin = (
        f"# >>> {app_name}: profiles of {username} (written by its merge; edits here are replaced)"
    )
    end = f"# <<< {app_name}: profiles of {username}"
    drop = sorted(set(section_names(config)) | {f"profile {name}" for name in remove})
    body = config if config.endswith("\n") else config + "\n"
    names = "\n".join([begin, end, *drop]) + "\n"
    return f"""#!/bin/sh
# Merges the AWS CLI profiles of {username} into your AWS config file ({app_name}).
# Keeps every other profile and comment; backs the file up first; safe to run again.
set -eu
umask 077
config="${{AWS_CONFIG_FILE:-$HOME/.aws/config}}"
mkdir -p "$(dirname "$config")"
if [ -e "$config" ]; then
  backup="$config.bak.$(date +%Y%m%d%H%M%S)"
  n=0
  while [ -e "$backup" ]; do n=$((n + 1)); backup="$config.bak.$(date +%Y%m%d%H%M%S).$n"; done
  cp -p "$config" "$backup"
  echo "Backed up $config to $backup"
else
  : > "$config"
fi
work=$(mktemp -d "${{TMPDIR:-/tmp}}/aws-config.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/names" <<'{_EOF}'
{names}{_EOF}
cat > "$work/profiles" <<'{_EOF}'
{body}{_EOF}
awk '{_AWK.strip()}' "$work/names" "$config" > "$work/merged"
if [ -s "$work/merged" ] && [ -n "$(tail -n 1 "$work/merged")" ]; then echo >> "$work/merged"; fi
{{ sed -n 1p "$work/names"; cat "$work/profiles"; sed -n 2p "$work/names"; }} >> "$work/merged"
cat "$work/merged" > "$config"
echo "Merged the profiles of {_comment(username)} into $config"
"""


def _comment(text: str) -> str:
    """``text`` inside the double-quoted echo: only what a user name may hold, no $ ` \\ "."""
    return re.sub(r"[^\w+=,.@-]", "_", text)
