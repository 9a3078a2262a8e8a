"""The HTML page of a run (SPEC §16): written by the controller and by ``selftest report``."""

from __future__ import annotations

import re

import pytest
from selftest_repo import SelftestRepo, step
from selftest_repo import selftest_cli as selftest

EVIL = "<script>alert(1)</script>"


@pytest.fixture
def mixed(repo: SelftestRepo) -> SelftestRepo:
    """Every verdict of a dev run: passed, waived, tolerated (a timeout), skipped, informational."""
    repo.steps(
        step("core", "kernel", "echo core ok"),
        step("evil", "governance", f"printf '%s\\n' '{EVIL}'; exit 1", remediation="make <b>"),
        step("slow", "governance", "sleep 5", timeout=0.5),
        step("after", "governance", depends_on=["slow"]),
        step("extra", "optional", "echo extra >&2; exit 1"),
    )
    repo.waive("evil")
    return repo


def script_elements(page: str) -> int:
    return len(re.findall(r"<script", page, flags=re.IGNORECASE))


def row(page: str, step_id: str) -> str:
    match = re.search(rf'<tr class="step" id="step-{step_id}".*?</tr>', page, flags=re.DOTALL)
    assert match is not None, step_id
    return match.group(0)


def test_a_serial_run_writes_the_page_and_names_it_last(mixed: SelftestRepo) -> None:
    result = mixed.run("--selftest-env=dev", "--selftest-html", "out/page.html")
    assert result.ret == 0
    page_path = mixed.path / "out" / "page.html"
    assert result.outlines[-2] == f"HTML: {page_path}"  # the last line of the selftest section
    page = page_path.read_text()
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "Selftest verdict: PASS</h1>" in page
    assert "Exit code <strong>0</strong> (ok)" in page
    assert "Env <code>dev</code>: governance budget 3" in page
    assert [m for m in re.findall(r'data-verdict="(\w+)"', page)] == [
        "passed",
        "waived",
        "tolerated",
        "skipped",
        "informational",
    ]
    assert ">WAIVED<" in row(page, "evil") and "known issue in evil" in row(page, "evil")
    assert "approved by alice" in row(page, "evil")
    assert ">TOLERATED<" in row(page, "slow") and "TIMEOUT" in row(page, "slow")
    assert ">SKIPPED<" in row(page, "after") and "dependency_failed:slow" in row(page, "after")
    assert ">INFO<" in row(page, "extra")
    assert "<summary>stderr</summary><pre>extra\n</pre>" in row(page, "extra")
    assert "Fix: make &lt;b&gt;" in row(page, "evil")
    assert '<text x="2" y="15">main</text>' in page  # one timeline lane: serial
    assert page.count("<rect ") == 5
    assert "<td>GOVERNANCE/evil</td>" in page  # the degradation log's newest entries
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "@media (max-width:700px){" in page  # phone: the step table turns into cards
    assert "@media print{" in page and "details::details-content" in page  # print: all open


def test_step_output_is_escaped_and_never_in_a_script_element(mixed: SelftestRepo) -> None:
    assert mixed.run("--selftest-env=dev", "--selftest-html", "page.html").ret == 0
    page = (mixed.path / "page.html").read_text()
    assert EVIL not in page
    assert "<pre>&lt;script&gt;alert(1)&lt;/script&gt;\n</pre>" in row(page, "evil")
    assert script_elements(page) == 1
    script = page[page.index("<script>") : page.index("</script>")]
    assert "alert" not in script and "evil" not in script


def test_a_distributed_run_has_a_lane_per_worker(mixed: SelftestRepo) -> None:
    assert mixed.run("-n", "2", "--selftest-env=dev", "--selftest-html", "page.html").ret == 0
    page = (mixed.path / "page.html").read_text()
    lanes = re.findall(r'<text x="2" y="\d+">(gw\d)</text>', page)
    assert sorted(lanes) == ["gw0", "gw1"]
    assert page.count('<tr class="step"') == 5
    history = (mixed.path / ".selftest" / "history.jsonl").read_text().splitlines()
    assert len(history) == 1  # the controller's line; workers write none


def test_the_history_strip_shows_the_earlier_runs(mixed: SelftestRepo) -> None:
    for _ in range(3):
        assert mixed.run("--selftest-env=dev", "--selftest-html", "page.html").ret == 0
    page = (mixed.path / "page.html").read_text()
    assert row(page, "core").count('class="h h-PASS') == 3
    assert row(page, "slow").count('class="h h-TIMEOUT') == 3
    assert row(page, "core").count("h-now") == 1


def test_a_page_that_cannot_be_written_is_one_warning(mixed: SelftestRepo) -> None:
    (mixed.path / "page.html").mkdir()
    result = mixed.run("--selftest-env=dev", "--selftest-html", "page.html")
    assert result.ret == 0
    warnings = [line for line in result.outlines if line.startswith("Warning: HTML")]
    assert warnings == [
        f"Warning: HTML report not written: cannot write {mixed.path / 'page.html'}: Is a directory"
    ]
    assert not any(line.startswith("HTML:") for line in result.outlines)


def test_the_ini_key_writes_the_page_relative_to_the_rootdir(mixed: SelftestRepo) -> None:
    (mixed.path / "pytest.ini").write_text("[pytest]\nselftest_html = reports/selftest.html\n")
    assert mixed.run("--selftest-env=dev").ret == 0
    assert (mixed.path / "reports" / "selftest.html").read_text().startswith("<!DOCTYPE html>")


def test_selftest_report_html_to_stdout_and_to_a_file(mixed: SelftestRepo) -> None:
    assert mixed.run("--selftest-env=dev").ret == 0
    shown = selftest(mixed.path, "report", "--html")
    assert (shown.returncode, shown.stderr) == (0, "")
    assert shown.stdout.startswith("<!DOCTYPE html>") and shown.stdout.endswith("</html>\n")
    assert 'data-verdict="waived"' in shown.stdout
    written = selftest(mixed.path, "report", "--html", "-o", "r.html")
    assert (written.returncode, written.stdout) == (0, "HTML: r.html\n")
    assert (mixed.path / "r.html").read_text() == shown.stdout
    refused = selftest(mixed.path, "report", "-o", "r.html")
    assert (refused.returncode, refused.stderr) == (2, "ERROR: -o/--output needs --html\n")
