"""Size of the Lambda deployment package: runs ``chalice package --stage prod`` (no AWS account
needed) and prints the size of deployment.zip in KiB, zipped and unzipped.

    .venv/bin/python bench/package_size.py
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.chalice_package import package  # noqa: E402

# Lambda refuses a package over 250 MiB unzipped (50 MiB zipped for a direct upload).
UNZIPPED_LIMIT_KIB = 250 * 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        package("prod", out)
        archive = out / "deployment.zip"
        zipped = archive.stat().st_size / 1024
        with zipfile.ZipFile(archive) as zipped_file:
            unzipped = sum(info.file_size for info in zipped_file.infolist()) / 1024
    print(
        f"deployment package (chalice package --stage prod): {zipped:,.0f} KiB zipped, "
        f"{unzipped:,.0f} KiB unzipped ({100 * unzipped / UNZIPPED_LIMIT_KIB:.0f}% of "
        f"Lambda's limit)"
    )


if __name__ == "__main__":
    main()
