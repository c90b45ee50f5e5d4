"""A health probe for container health checks and monitoring (standard library only).

    python -m services.healthcheck http://127.0.0.1:9101/healthz
    python -m services.healthcheck --any-answer http://127.0.0.1:8080/rapport

Exit 0 when the URL answers 200 (with `--any-answer`: any HTTP status below 500, for the
HTTP services whose pages may ask for a login), 1 otherwise, with the reason on stderr.
The stream consumers (ingest, aggregate, maps) serve `/healthz` on LAGESBILD_METRICS_PORT,
which checks Redis, the database and the consumer (`shared/observability.py`); the HTTP
services (intake, TiB, maps-serve) are checked by a page of their own answering.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request


def probe(url: str, any_answer: bool = False, timeout: float = 5.0) -> str | None:
    """None when healthy, else why not (in Swedish)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url} svarar inte: {exc}"
    if status == 200 or (any_answer and status < 500):
        return None
    return f"{url} svarade {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hälsokontroll av en lägesbild-tjänst.")
    parser.add_argument("url")
    parser.add_argument(
        "--any-answer", action="store_true", help="varje HTTP-svar under 500 räknas som frisk"
    )
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    problem = probe(args.url, args.any_answer, args.timeout)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
