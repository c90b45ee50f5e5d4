"""Regenerate the packaged kommun boundaries from the raw open data beside the checkout.

    .venv/bin/python tools/build_kommuner.py [--shared ../shared] [--check]

Reads `<shared>/data/areas/sweden_kommuner.geojson` and `kommuner_codes.csv` (read-only),
writes `shared/data/kommuner/kommuner.geojson` (simplified, rounded: see shared/national.py).
`--check` only compares and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.national import NATIONAL_FILE, derive_national_file, dump_national_file  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    raw = args.shared / "data" / "areas" / "sweden_kommuner.geojson"
    codes = args.shared / "data" / "areas" / "kommuner_codes.csv"
    text = dump_national_file(
        derive_national_file(raw.read_text(encoding="utf-8"), codes.read_text(encoding="utf-8"))
    )
    if args.check:
        same = NATIONAL_FILE.is_file() and NATIONAL_FILE.read_text(encoding="utf-8") == text
        print("aktuell" if same else f"{NATIONAL_FILE} skiljer sig från rådata")
        return 0 if same else 1
    NATIONAL_FILE.parent.mkdir(parents=True, exist_ok=True)
    NATIONAL_FILE.write_text(text, encoding="utf-8")
    print(f"skrev {NATIONAL_FILE} ({len(text) // 1024} kB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
