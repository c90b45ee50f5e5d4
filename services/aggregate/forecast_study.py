"""The forecast's evaluation protocol on the shared real data (docs/forecast.md), in one
place for the study script (bench/forecast_unit_study.py) and the test that re-runs it
(tests/integration/test_forecast_vancouver.py): the file's layout, the tuning and held-out
weeks, and the third round's 32 candidates as written down before the held-out run."""

from __future__ import annotations

from datetime import date

from services.aggregate.forecast import Method
from services.aggregate.forecast_cli import CsvLayout

VANCOUVER_FILE = "vancouver_vpd_crimes_2020.csv.gz"  # in ../shared/data/incidents/
VANCOUVER_LAYOUT = CsvLayout(
    time_columns=("YEAR", "MONTH", "DAY", "HOUR", "MINUTE"),
    x_column="X",
    y_column="Y",
    crs="EPSG:32610",  # UTM zone 10N metres
)
TUNE_WEEKS = (date(2020, 2, 3), date(2020, 7, 6))  # 2020-W06 .. W27 (end excluded)
TEST_WEEKS = (date(2020, 7, 6), date(2020, 12, 28))  # 2020-W28 .. W52 (end excluded)
STUDY_CELL_M = 250.0
CELL_SIZES = (250.0 / 3, 100.0, 125.0, 150.0, 200.0, 250.0)
LAMBDAS = (0.5, 1.0, 2.0)
HALF_LIFE = 8.0


def size_label(cell_m: float) -> str:
    return "83.3" if abs(cell_m - 250 / 3) < 1e-9 else f"{cell_m:g}"


def unit_candidates() -> list[Method]:
    """The 32 candidates of the third round ("the spatial unit")."""
    out: list[Method] = []
    for c in CELL_SIZES:
        tag = f"c{size_label(c)}"
        out.append(Method(f"{tag} count", cell_m=c))
        out.append(Method(f"{tag} decay8", half_life_weeks=HALF_LIFE, cell_m=c))
        if c < STUDY_CELL_M:
            out += [Method(f"{tag} shrink{lam:g}", cell_m=c, shrink=lam) for lam in LAMBDAS]
            out.append(
                Method(f"{tag} decay8+shrink1", half_life_weeks=HALF_LIFE, cell_m=c, shrink=1.0)
            )
    return out
