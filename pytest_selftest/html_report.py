"""One self-contained HTML5 page from a v2 report, the run history and the degradation log.

SPEC §16. Pure of pytest and of the file system: callers read the inputs and write the page.
Every text from steps, files or the environment passes through :func:`html.escape` and is never
placed inside the page's one ``<script>`` element, whose code is fixed: it only filters rows and
opens or closes the collapsed output. No external asset, no network.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_selftest.markdown import (
    TABLE_COLUMNS,
    TIERS,
    as_list,
    as_mapping,
    policy_phrase,
    report_env,
)

HISTORY_STRIP = 20
DEGRADATIONS_SHOWN = 10
VERDICT_WORDS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "waived": "WAIVED",
    "tolerated": "TOLERATED",
    "informational": "INFO",
    "skipped": "SKIPPED",
}
_LANE_HEIGHT = 22
_TIMELINE_WIDTH = 1000
_LABEL_WIDTH = 90

_CSS = """
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--skip:#6e7781;--bg:#f6f8fa;--line:#d0d7de}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328}
main{max-width:1400px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.banner{padding:16px;border-radius:8px;color:#fff;background:var(--skip)}
.banner.v-PASS{background:var(--ok)}.banner.v-FAIL{background:var(--bad)}
.banner.v-CONFIG_ERROR,.banner.v-INTERRUPTED{background:var(--warn)}
.banner p{margin:2px 0}.banner code{color:#fff}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg)}td.num,th.num{text-align:right}
.tiers{width:auto}.scroll{overflow-x:auto}
.w{font-weight:600;white-space:nowrap}
.w-passed{color:var(--ok)}.w-failed{color:var(--bad)}.w-skipped{color:var(--skip)}
.w-waived,.w-tolerated,.w-informational{color:var(--warn)}
.desc,.muted{color:#59636e}
pre{background:var(--bg);padding:8px;overflow:auto;max-height:24em;white-space:pre-wrap;
word-break:break-word;margin:4px 0}
details summary{cursor:pointer;color:#0969da}
.controls{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.controls input,.controls select,.controls button{font:inherit;padding:4px 8px}
.strip{display:flex;gap:1px}
.h{display:inline-block;width:8px;height:14px;background:var(--line)}
.h-PASS{background:var(--ok)}.h-FAIL,.h-TIMEOUT{background:var(--bad)}.h-SKIP{background:#afb8c1}
.h-now{outline:1px solid #1f2328}
svg.timeline{width:100%;height:auto;border:1px solid var(--line)}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}svg text.bar{fill:#fff}
.t-passed{fill:var(--ok)}.t-failed{fill:var(--bad)}.t-skipped{fill:#afb8c1}
.t-waived,.t-tolerated,.t-informational{fill:#d4a72c}
[hidden]{display:none!important}
@media (max-width:700px){
main{padding:8px}
table.steps thead{display:none}
table.steps tr{display:block;border-bottom:2px solid var(--line);padding:6px 0}
table.steps td{display:block;border:0;padding:2px 4px}
table.steps td[data-label]::before{content:attr(data-label) ": ";color:#59636e}
table.steps td:empty{display:none}
table.steps td.num{text-align:left}
table.steps td[data-label="step"]::before{content:none}
}
@media print{
.controls{display:none}
details::details-content{content-visibility:visible;display:block}
pre{max-height:none}
.banner{color:#000;border:2px solid #000;background:none!important}
.banner code{color:#000}
}
"""

# Fixed code: it reads no data from the page beyond attributes of its own rows.
_SCRIPT = """
(function () {
  var query = document.getElementById("filter");
  var verdict = document.getElementById("verdict");
  function apply() {
    var text = query.value.toLowerCase();
    var wanted = verdict.value;
    document.querySelectorAll("tr.step").forEach(function (row) {
      var hit = row.getAttribute("data-search").indexOf(text) >= 0;
      var kind = !wanted || row.getAttribute("data-verdict") === wanted;
      row.hidden = !(hit && kind);
    });
  }
  function openAll(open) {
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  }
  query.addEventListener("input", apply);
  verdict.addEventListener("change", apply);
  document.getElementById("expand").addEventListener("click", function () {
    openAll(!Array.prototype.every.call(document.querySelectorAll("details"),
      function (d) { return d.open; }));
  });
  window.addEventListener("beforeprint", function () { openAll(true); });
})();
"""


def esc(value: object) -> str:
    """Any value as HTML text, quotes included, so it is safe in content and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def render_html(
    report: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] = (),
    degradations: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The whole page; a report with missing parts still renders what it has."""
    summary = as_mapping(report.get("summary"))
    metadata = as_mapping(report.get("metadata"))
    results = [r for r in as_list(report.get("results")) if isinstance(r, Mapping)]
    strips = _history_by_step(history[-HISTORY_STRIP:], str(metadata.get("run_id") or ""))
    title = f"selftest {summary.get('verdict', '')} · {report_env(report, summary)}"
    body = [
        _banner(report, summary, metadata),
        _errors(report),
        "<h2>Tiers</h2>",
        _tier_table(summary),
        f"<h2>Steps ({len(results)})</h2>",
        _controls(),
        _steps_table(results, strips),
        "<h2>Timeline</h2>",
        _timeline(results),
        f"<h2>Last {DEGRADATIONS_SHOWN} degradations</h2>",
        _degradations(degradations[-DEGRADATIONS_SHOWN:]),
    ]
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n",
            "\n".join(part for part in body if part),
            f"\n</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n",
        ]
    )


def _banner(
    report: Mapping[str, Any], summary: Mapping[str, Any], metadata: Mapping[str, Any]
) -> str:
    verdict = str(summary.get("verdict") or "UNKNOWN")
    env = report_env(report, summary)
    commit = str(metadata.get("git_commit") or "unknown")[:12]
    facts = [
        f"<p>Exit code <strong>{esc(summary.get('exit_code'))}</strong> "
        f"({esc(summary.get('exit_reason'))}) · status {esc(summary.get('status'))}</p>",
        f"<p>Env <code>{esc(env)}</code>: {esc(policy_phrase(summary, env))}</p>",
        f"<p>Run {esc(metadata.get('run_id'))} · {esc(metadata.get('timestamp'))} · "
        f"{esc(metadata.get('git_branch'))} @ {esc(commit)} · "
        f"wall {esc(_ms(summary.get('wall_duration_ms')))}</p>",
    ]
    return (
        f'<header class="banner v-{esc(verdict)}" id="verdict-banner">'
        f"<h1>Selftest verdict: {esc(verdict)}</h1>{''.join(facts)}</header>"
    )


def _errors(report: Mapping[str, Any]) -> str:
    errors = as_list(report.get("errors"))
    if not errors:
        return ""
    items = "".join(f"<li>{esc(e)}</li>" for e in errors)
    return f'<h2>Errors</h2><ul class="errors">{items}</ul>'


def _tier_table(summary: Mapping[str, Any]) -> str:
    by_tier = as_mapping(summary.get("by_tier"))
    columns = (*TABLE_COLUMNS, "total")
    head = "".join(f'<th class="num">{c}</th>' for c in columns)
    rows = []
    for tier in TIERS:
        counts = as_mapping(by_tier.get(tier))
        cells = "".join(f'<td class="num">{esc(counts.get(c, 0))}</td>' for c in columns)
        rows.append(f"<tr><th>{tier}</th>{cells}</tr>")
    table = f'<table class="tiers"><tr><th>tier</th>{head}</tr>{"".join(rows)}</table>'
    return f'<div class="scroll">{table}</div>'


def _controls() -> str:
    options = "".join(f'<option value="{v}">{w}</option>' for v, w in VERDICT_WORDS.items())
    return (
        '<div class="controls"><input id="filter" type="search" placeholder="Filter steps" '
        'aria-label="Filter steps"><select id="verdict" aria-label="Verdict">'
        f'<option value="">all verdicts</option>{options}</select>'
        '<button id="expand" type="button">Expand / collapse output</button></div>'
    )


def _steps_table(results: Sequence[Mapping[str, Any]], strips: Mapping[str, str]) -> str:
    head = "".join(
        f"<th>{name}</th>"
        for name in ("step", "tier", "verdict", "duration", "waiver", "cache", "history", "detail")
    )
    rows = [_step_row(result, strips.get(str(result.get("step_id")), "")) for result in results]
    return (
        f'<table class="steps" id="steps"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _step_row(result: Mapping[str, Any], strip: str) -> str:
    step_id = str(result.get("step_id"))
    verdict = str(result.get("verdict"))
    search = f"{step_id} {result.get('description') or ''} {result.get('tier') or ''}".lower()
    reason = result.get("verdict_reason") or result.get("reason") or ""
    word = VERDICT_WORDS.get(verdict, verdict.upper())
    cells = [
        f'<td data-label="step"><strong>{esc(step_id)}</strong>'
        f'<div class="desc">{esc(result.get("description"))}</div></td>',
        f'<td data-label="tier">{esc(result.get("tier"))}</td>',
        f'<td data-label="verdict"><span class="w w-{esc(verdict)}">{esc(word)}</span> '
        f'<span class="muted">{esc(result.get("status"))}</span>'
        f'<div class="muted">{esc(reason)}</div></td>',
        f'<td data-label="duration" class="num">{esc(_ms(result.get("duration_ms")))}</td>',
        f'<td data-label="waiver">{_waiver(result)}</td>',
        f'<td data-label="cache">{esc(_cache(result.get("cache")))}</td>',
        f'<td data-label="history">{strip}</td>',
        f'<td data-label="detail">{_detail(result)}</td>',
    ]
    return (
        f'<tr class="step" id="step-{esc(step_id)}" data-verdict="{esc(verdict)}" '
        f'data-search="{esc(search)}">{"".join(cells)}</tr>'
    )


def _waiver(result: Mapping[str, Any]) -> str:
    waiver = as_mapping(result.get("waiver"))
    if not waiver:
        return "unused waiver" if result.get("waiver_unused") else ""
    return (
        f'{esc(waiver.get("reason"))}<div class="muted">approved by '
        f"{esc(waiver.get('approver'))}, expires {esc(waiver.get('expires_at'))}</div>"
    )


def _cache(cache: object) -> str:
    if not isinstance(cache, Mapping):
        return ""
    status = str(cache.get("status") or "")
    saved = cache.get("saved_ms")
    return f"{status} (saved {_ms(saved)})" if status == "hit" and saved is not None else status


def _detail(result: Mapping[str, Any]) -> str:
    parts = []
    if result.get("remediation") and result.get("status") in ("FAIL", "TIMEOUT"):
        parts.append(f'<div class="fix">Fix: {esc(result.get("remediation"))}</div>')
    findings = [f for f in as_list(result.get("findings")) if isinstance(f, Mapping)]
    if findings:
        items = "".join(f"<li>{esc(_location(f))}{esc(f.get('message'))}</li>" for f in findings)
        parts.append(f'<ul class="findings">{items}</ul>')
    if result.get("command"):
        parts.append(f'<div class="muted">$ {esc(result.get("command"))}</div>')
    for stream in ("stdout_tail", "stderr_tail"):
        text = result.get(stream)
        if text:
            label = stream.replace("_tail", "")
            parts.append(f"<details><summary>{label}</summary><pre>{esc(text)}</pre></details>")
    return "".join(parts)


def _location(finding: Mapping[str, Any]) -> str:
    path, line = finding.get("path"), finding.get("line")
    if not path:
        return ""
    return f"{path}:{line}: " if line else f"{path}: "


def _history_by_step(history: Sequence[Mapping[str, Any]], current_run: str) -> dict[str, str]:
    """Per step, a strip of its last runs (oldest first), one coloured cell per run."""
    cells: dict[str, list[str]] = {}
    for index, run in enumerate(history):
        steps = as_mapping(run.get("steps"))
        for step_id in steps:
            cells.setdefault(step_id, [""] * index)
        for step_id, row in cells.items():
            row.append(_history_cell(run, as_mapping(steps.get(step_id)), current_run))
    return {
        step_id: f'<span class="strip">{"".join(c for c in row if c)}</span>'
        for step_id, row in cells.items()
    }


def _history_cell(run: Mapping[str, Any], entry: Mapping[str, Any], current_run: str) -> str:
    if not entry:
        return ""
    status = str(entry.get("status") or "")
    title = f"{run.get('timestamp')} {status} {_ms(entry.get('duration_ms'))} {run.get('run_id')}"
    now = " h-now" if current_run and run.get("run_id") == current_run else ""
    return f'<span class="h h-{esc(status)}{now}" title="{esc(title)}"></span>'


def _timeline(results: Sequence[Mapping[str, Any]]) -> str:
    """An inline SVG: one lane per worker, one bar per step from its start to its end."""
    timed = [r for r in results if _number(r.get("timestamp_start")) is not None]
    if not timed:
        return '<p class="muted">No step timings.</p>'
    start = min(float(r["timestamp_start"]) for r in timed)
    end = max(_end(r) for r in timed)
    span = max(end - start, 1e-3)
    lanes = list(dict.fromkeys(str(r.get("worker") or "main") for r in timed))
    scale = (_TIMELINE_WIDTH - _LABEL_WIDTH) / span
    height = _LANE_HEIGHT * len(lanes) + 20
    parts = [
        f'<svg class="timeline" viewBox="0 0 {_TIMELINE_WIDTH} {height}" role="img" '
        f'aria-label="Steps per worker over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, lane in enumerate(lanes):
        parts.append(f'<text x="2" y="{index * _LANE_HEIGHT + 15}">{esc(lane)}</text>')
    row_of = {lane: index for index, lane in enumerate(lanes)}
    for result in timed:
        row = row_of[str(result.get("worker") or "main")]
        x = _LABEL_WIDTH + (float(result["timestamp_start"]) - start) * scale
        width = max((_end(result) - float(result["timestamp_start"])) * scale, 1.5)
        title = (
            f"{result.get('step_id')} ({result.get('status')}, {_ms(result.get('duration_ms'))})"
        )
        parts.append(
            f'<rect class="t-{esc(result.get("verdict"))}" x="{x:.1f}" '
            f'y="{row * _LANE_HEIGHT + 3}" width="{width:.1f}" height="{_LANE_HEIGHT - 6}">'
            f"<title>{esc(title)}</title></rect>"
        )
        step_id = str(result.get("step_id"))
        if width > 7 * len(step_id) + 6:  # a label only where it fits inside the bar
            parts.append(
                f'<text class="bar" x="{x + 3:.1f}" y="{row * _LANE_HEIGHT + 15}">'
                f"{esc(step_id)}</text>"
            )
    parts.append(
        f'<text x="{_LABEL_WIDTH}" y="{height - 4}">0 s</text>'
        f'<text x="{_TIMELINE_WIDTH - 4}" y="{height - 4}" text-anchor="end">{span:.1f} s</text>'
    )
    return "".join(parts) + "</svg>"


def _end(result: Mapping[str, Any]) -> float:
    end = _number(result.get("timestamp_end"))
    return end if end is not None else float(result["timestamp_start"])


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _degradations(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return '<p class="muted">No degradations logged.</p>'
    head = "".join(
        f"<th>{name}</th>" for name in ("time", "step", "status", "severity", "message", "fix")
    )
    rows = [
        f"<tr><td>{esc(e.get('timestamp'))}</td>"
        f"<td>{esc(str(e.get('tier') or '').upper())}/{esc(e.get('step_id'))}</td>"
        f"<td>{esc(e.get('status'))} ({esc(e.get('verdict'))})</td>"
        f"<td>{esc(e.get('severity'))}</td><td><pre>{esc(e.get('message'))}</pre></td>"
        f"<td>{esc(e.get('remediation'))}</td></tr>"
        for e in reversed(entries)
    ]
    table = f'<table class="degradations"><tr>{head}</tr>{"".join(rows)}</table>'
    return f'<div class="scroll">{table}</div>'


def _ms(value: object) -> str:
    number = _number(value)
    if number is None:
        return ""
    return f"{number:.0f} ms" if number < 1000 else f"{number / 1000:.2f} s"
