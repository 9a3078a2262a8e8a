"""The HTML page in a real browser: headless Chromium loads it, runs its script, renders it."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from selftest_repo import SelftestRepo, step

EVIL = "<script>alert(1)</script>"
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary: install Debian's chromium (bash .ci/install-services.sh)",
)


def chromium(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={home / 'profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def page(repo: SelftestRepo) -> Path:
    repo.steps(
        step("core", "kernel", "echo core ok"),
        step("evil", "governance", f"printf '%s\\n' '{EVIL}'; exit 1"),
        step("extra", "optional", "exit 1"),
    )
    assert repo.run("--selftest-env=dev", "--selftest-html", "page.html").ret == 0
    return repo.path / "page.html"


def test_the_dom_holds_the_steps_and_no_injected_script(page: Path, tmp_path: Path) -> None:
    done = chromium("--dump-dom", page.as_uri(), home=tmp_path)
    assert done.returncode == 0, done.stderr
    dom = done.stdout
    assert dom.count('<tr class="step"') == 3
    assert dom.count("<script") == 1  # the page's own; the step's text stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "Selftest verdict: PASS" in dom
    assert "<svg" in dom


def test_the_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri(), home=tmp_path)
    assert done.returncode == 0, done.stderr
    width, height, rows = decode_png(shot.read_bytes(), max_rows=700)
    assert (width, height) == (1280, 2000)
    colours = {pixel for row in rows for pixel in row}
    assert len(colours) > 50  # text, the green banner, table lines: not one flat colour
    green = (0x1A, 0x7F, 0x37)  # the PASS banner
    assert sum(row.count(green) for row in rows[20:120]) > 100_000


def decode_png(data: bytes, max_rows: int) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Width, height and the first ``max_rows`` rows of RGB pixels of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for index in range(min(height, max_rows)):
        start = index * (stride + 1)
        current = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        rows.append([tuple(current[i : i + 3]) for i in range(0, stride, channels)])
        previous = current
    return width, height, rows


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> bytearray:
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        else:
            corner = previous[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
    return line


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    near_left, near_up, near_corner = (abs(estimate - v) for v in (left, up, corner))
    if near_left <= near_up and near_left <= near_corner:
        return left
    return up if near_up <= near_corner else corner
