"""ALLO's ephemeris table: parsing, ALLO's day convention, one-line errors, planning with it (no Blender)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oodforge.demo.ephemeris import GARBAGE_ROW, demo_ephemeris_table, write_demo_ephemeris
from oodforge.errors import InputFileError
from oodforge.render import plan_frames, render_config_from_dict
from oodforge.render.ephemeris import load_ephemeris, parse_ephemeris

# three days in ALLO's format (row 0 = uninitialised garbage, as in ALLO's published render_data_csv)
_ROWS = [
    GARBAGE_ROW,
    (212.28, 0.0, -411.49, -284.03, 18.97, 713.40, -3611.35, -1565.0, 35.28, 1069.03, 1517.12, 745.33),
    (94.57, 0.0, -467.51, 177.30, 18.97, 781.43, -3599.47, -1559.87, 35.57, 607.50, 1716.55, 827.28),
    (15.95, 0.0, -119.66, 485.47, 18.98, 849.08, -3586.97, -1553.29, 33.69, 94.08, 1704.81, 1041.52),
]


def _text(rows=_ROWS) -> str:
    return "".join(",".join(f"{v:.18e}" for v in r) + "\n" for r in rows)


@pytest.fixture
def eph_file(tmp_path):
    path = tmp_path / "render_data_csv"
    path.write_text(_text())
    return path


def test_day_is_the_zero_based_row_and_bodies_follow_allo(eph_file):
    eph = load_ephemeris(eph_file)
    assert eph.table.shape == (4, 12) and eph.last_day == 3
    day = eph.day(2)  # the third line of the file
    assert (day.day, day.row) == (2, 2)
    assert day.moon.radius == pytest.approx(94.57) and day.moon.location == pytest.approx((0.0, -467.51, 177.30))
    assert day.sun.radius == pytest.approx(18.97) and day.sun.location == pytest.approx((781.43, -3599.47, -1559.87))
    assert day.earth.radius == pytest.approx(35.57) and day.earth.location == pytest.approx((607.50, 1716.55, 827.28))
    assert set(day.bodies()) == {"moon", "sun", "earth"}
    sun = np.array(day.sun.location)
    assert day.sun_direction == pytest.approx(tuple(sun / np.linalg.norm(sun)))
    assert day.light_direction == pytest.approx(tuple(-sun / np.linalg.norm(sun)))  # from the Sun to the station
    assert load_ephemeris(eph_file) is eph  # cached while the file is unchanged


def _one_line(exc: pytest.ExceptionInfo[InputFileError], *needles: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("scene.ephemeris: ")
    for n in needles:
        assert n in msg, msg


def test_days_outside_the_table_and_garbage_rows(eph_file, tmp_path):
    eph = load_ephemeris(eph_file)
    with pytest.raises(InputFileError) as exc:
        eph.day(0)
    _one_line(exc, str(eph_file), "row 0 (line 1)", "uninitialised", "days start at 1")
    for day in (4, 365, -1):
        with pytest.raises(InputFileError) as exc:
            eph.day(day)
        _one_line(exc, str(eph_file), f"day {day} is outside the table", "days 1..3")
    rows = [list(r) for r in _ROWS]
    rows[2][4] = 6.9e-310  # the sun's radius of day 2: uninitialised memory
    rows[3][1] = float("nan")
    bad = tmp_path / "bad_csv"
    bad.write_text(_text(rows))
    eph = load_ephemeris(bad)
    eph.day(1)  # a good row of the same file still works
    with pytest.raises(InputFileError) as exc:
        eph.day(2)
    _one_line(exc, str(bad), "row 2 (line 3, day 2) is garbage", "sun radius 6.9e-310")
    with pytest.raises(InputFileError) as exc:
        eph.day(3)
    _one_line(exc, "row 3 (line 4, day 3) is garbage", "moon has a non-finite value")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (_text()[:-1].rsplit(",", 1)[0] + "\n", ["line 4 (row 3): 11 columns, expected 12", "moon r, x, y, z"]),
        (_text().replace(f"{18.97:.18e}", "18.9x", 1), ["line 2 (row 1), column 5: '18.9x' is not a number"]),
        (_text().replace("\n", "\n\n", 1), ["line 2 (row 1): empty line before the last row", "shift"]),
        ("", ["no rows"]),
        ("moon_r,x,y,z,sun_r,x,y,z,earth_r,x,y,z\n" + _text(), ["line 1 (row 0), column 1", "'moon_r' is not a"]),
    ],
)
def test_malformed_files_are_one_line_naming_file_and_line(tmp_path, text, needles):
    path = tmp_path / "eph.csv"
    path.write_text(text)
    with pytest.raises(InputFileError) as exc:
        load_ephemeris(path)
    _one_line(exc, str(path), *needles)


def test_trailing_blank_lines_are_fine_and_missing_file(tmp_path):
    assert parse_ephemeris(_text() + "\n\n", "x").shape == (4, 12)
    with pytest.raises(InputFileError) as exc:
        load_ephemeris(tmp_path / "nope.csv")
    _one_line(exc, "nope.csv not found")


def test_demo_table_has_allo_shape_and_garbage_first_row(tmp_path):
    path = write_demo_ephemeris(tmp_path / "eph.csv", days=5)
    table = demo_ephemeris_table(5)
    eph = load_ephemeris(path)
    assert np.array_equal(eph.table, table) and eph.last_day == 5
    assert path.read_text().count("\n") == 6 and "," in path.read_text().splitlines()[0]
    for d in range(1, 6):
        day = eph.day(d)
        assert np.linalg.norm(day.moon.location) == pytest.approx(500.0)
        assert np.linalg.norm(day.sun.location) == pytest.approx(4000.0)
    with pytest.raises(InputFileError):
        eph.day(0)


def test_plan_takes_sun_angles_and_bodies_from_the_table(eph_file):
    cfg = render_config_from_dict(
        {
            "output_root": "o",
            "scene": {"ephemeris": str(eph_file)},
            "days": {"start": 1, "end": 3, "interval": 2},
            "anomalies": ["cube"],
            "cameras": {"count": 2},
        }
    )
    frames = plan_frames(cfg)
    assert {f.day for f in frames} == {1, 3} and len(frames) == 2 * 2 * 2
    for f in frames:
        assert f.ephemeris is not None and f.ephemeris.day == f.day
        x, y, z = f.ephemeris.sun_direction
        assert f.sun_azimuth_deg == pytest.approx(math.degrees(math.atan2(y, x)))
        assert f.sun_elevation_deg == pytest.approx(math.degrees(math.asin(z)))
    # without an ephemeris the day sweep stays, and frames carry no bodies
    sweep = plan_frames(render_config_from_dict({"output_root": "o", "days": {"start": 1, "end": 3}}))
    assert all(f.ephemeris is None for f in sweep)
    assert [f.sun_azimuth_deg for f in sweep if f.camera == "cam01" and not f.anomalous] == [30.0, 70.0, 110.0]


@pytest.mark.parametrize(("days", "needle"), [({"start": 0, "end": 1}, "row 0 (line 1)"), ({"end": 9}, "day 4")])
def test_plan_refuses_days_the_table_does_not_have(eph_file, days, needle):
    cfg = render_config_from_dict({"output_root": "o", "scene": {"ephemeris": str(eph_file)}, "days": days})
    with pytest.raises(InputFileError) as exc:
        plan_frames(cfg)
    _one_line(exc, str(eph_file), needle)
