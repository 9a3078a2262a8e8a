"""SPEC §14 against a real Pushgateway: the push lands as job selftest, instance = run id.

The Debian package ``prometheus-pushgateway`` provides the binary (``.ci/install-services.sh``
installs it); each test starts its own gateway on a free loopback port and stops it again.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_selftest import metrics

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from test_metrics import CACHED_STEPS, make_report

READY_WITHIN = 10.0
Sample = tuple[str, tuple[tuple[str, str], ...]]
# Loopback requests must never go through a proxy configured on the machine.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_pushgateway() -> str | None:
    """The pushgateway binary: on PATH under either name, or where Debian installs it."""
    for name in ("prometheus-pushgateway", "pushgateway"):
        found = shutil.which(name)
        if found:
            return found
    debian = Path("/usr/bin/prometheus-pushgateway")
    return str(debian) if os.access(debian, os.X_OK) else None


def unused_port() -> int:
    """A loopback port on which nothing listens (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def get(url: str) -> str:
    with DIRECT.open(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode("utf-8")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``/-/ready`` for at most READY_WITHIN seconds; fail with the gateway's log."""
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pushgateway exited with {process.returncode}:\n{log.read_text()}")
        try:
            get(f"{url}/-/ready")
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"pushgateway not ready within {READY_WITHIN:g} s:\n{log.read_text()}")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no SELFTEST_* variable of the machine changes what these tests see."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "SELFTEST_ENVIRONMENT",
        "SELFTEST_METRICS_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """The URL of a Pushgateway started for this test alone; stopped (or killed) afterwards."""
    binary = find_pushgateway()
    if binary is None:
        pytest.skip("prometheus-pushgateway is not installed; run .ci/install-services.sh")
    url = f"http://127.0.0.1:{unused_port()}"
    log = tmp_path / "pushgateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--web.listen-address={url.removeprefix('http://')}",
                f"--persistence.file={tmp_path / 'pushgateway.data'}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def selftest_samples(exposition: str) -> dict[Sample, float]:
    """The selftest_* samples of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name.startswith("selftest_")
    }


def with_group(samples: Mapping[Sample, float], run_id: str) -> dict[Sample, float]:
    """``samples`` as the gateway exposes them: job and instance labels added."""
    return {
        (
            name,
            tuple(sorted({**dict(labels), "job": "selftest", "instance": run_id}.items())),
        ): value
        for (name, labels), value in samples.items()
    }


def textfile_samples(report: Mapping[str, Any], tmp_path: Path) -> dict[Sample, float]:
    path = tmp_path / "expected.prom"
    metrics.write_textfile(report, path)
    return selftest_samples(path.read_text())


def test_a_push_lands_as_job_selftest_with_the_run_id_as_instance(
    pushgateway: str, tmp_path: Path
) -> None:
    """Every sample of the textfile comes back from the gateway, with job and instance added."""
    report = make_report(run_id="20261129T064512Z-3f2a9c")
    assert metrics.push(report, pushgateway) is None
    exposed = get(f"{pushgateway}/metrics")
    got = selftest_samples(exposed)
    assert got == with_group(textfile_samples(report, tmp_path), "20261129T064512Z-3f2a9c")
    group = {"instance": "20261129T064512Z-3f2a9c", "job": "selftest"}
    step = (
        "selftest_step_total",
        tuple(
            sorted(
                {
                    **group,
                    "env": "staging",
                    "step_id": "bdd",
                    "tier": "governance",
                    "result": "waived",
                }.items()
            )
        ),
    )
    assert got[step] == 1.0
    assert (
        got[("selftest_run_overall_status", tuple(sorted({**group, "env": "staging"}.items())))]
        == 0.5
    )
    pushed_at = [
        s
        for f in text_string_to_metric_families(exposed)
        for s in f.samples
        if s.name == "push_time_seconds" and s.labels == group
    ]
    assert len(pushed_at) == 1


def test_a_push_counts_cache_hits_and_has_no_duration_for_them(pushgateway: str) -> None:
    """selftest_cache_hits_total reaches the gateway; only the step that ran has a duration."""
    assert metrics.push(make_report(CACHED_STEPS, run_id="run-c"), pushgateway) is None
    got = selftest_samples(get(f"{pushgateway}/metrics"))
    group = {"instance": "run-c", "job": "selftest", "env": "staging"}
    assert got[("selftest_cache_hits_total", tuple(sorted(group.items())))] == 2.0
    durations = [
        dict(labels) for name, labels in got if name == "selftest_step_duration_seconds_sum"
    ]
    assert [labels["step_id"] for labels in durations] == ["bdd"]


def test_each_run_is_its_own_group_and_a_repush_replaces_it(
    pushgateway: str, tmp_path: Path
) -> None:
    """Two run ids give two groups; pushing a run id again replaces that group's samples."""
    first = make_report(run_id="run-1")
    second = make_report(run_id="run-2", env="prod", wall_duration_ms=5000)
    assert metrics.push(first, pushgateway) is None
    assert metrics.push(second, pushgateway) is None
    redone = make_report(
        [
            {
                "step_id": "core-checks",
                "tier": "kernel",
                "status": "FAIL",
                "verdict": "failed",
                "duration_ms": 10,
            }
        ],
        run_id="run-1",
    )
    assert metrics.push(redone, pushgateway, environment="staging-eu") is None
    got = selftest_samples(get(f"{pushgateway}/metrics"))
    expected = {
        **with_group(textfile_samples(second, tmp_path), "run-2"),
        **with_group(selftest_samples(_exposition(redone, "staging-eu")), "run-1"),
    }
    assert got == expected
    assert {dict(labels)["env"] for _, labels in got} == {"prod", "staging-eu"}


def _exposition(report: Mapping[str, Any], environment: str) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.build_registry(report, environment)).decode("utf-8")


def test_a_push_the_gateway_refuses_becomes_a_warning(pushgateway: str) -> None:
    """A type clash with an existing group is HTTP 400 from the gateway: a warning, no exception."""
    clash = b"# TYPE selftest_run_overall_status counter\nselftest_run_overall_status 1\n"
    request = urllib.request.Request(
        f"{pushgateway}/metrics/job/selftest/instance/other", data=clash, method="PUT"
    )
    with DIRECT.open(request, timeout=5):
        pass
    warning = metrics.push(make_report(run_id="run-3"), pushgateway)
    assert warning == (
        f"selftest metrics not pushed to {pushgateway}: HTTP 400 Bad Request "
        "(the run's verdict is unaffected)"
    )


def test_pushing_where_nothing_listens_returns_a_warning_within_the_timeout() -> None:
    """A gateway that is down is a warning string, returned well within the timeout."""
    url = f"127.0.0.1:{unused_port()}"
    started = time.monotonic()
    warning = metrics.push(make_report(), url, timeout=2.0)
    assert time.monotonic() - started < 2.0
    refused = f"[Errno {errno.ECONNREFUSED}] {os.strerror(errno.ECONNREFUSED)}"
    assert warning == (
        f"selftest metrics not pushed to {url}: {refused} (the run's verdict is unaffected)"
    )


def test_a_gateway_that_never_answers_returns_a_warning_after_the_timeout() -> None:
    """A listener that accepts but never replies costs the timeout, then a warning."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        warning = metrics.push(make_report(), url, timeout=0.5)
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.0
    assert warning == (
        f"selftest metrics not pushed to {url}: no answer within 0.5 s "
        "(the run's verdict is unaffected)"
    )
