"""Bad step files and the exact messages they must give (SPEC §2), shared by the pure
catalogue tests and the end-to-end configuration-error tests."""

from __future__ import annotations

import textwrap

# Four valid lines, so that a bad step after it starts at line 5 of steps/gov.yaml.
LINT = """\
- id: lint
  tier: governance
  description: Lint the code
  run: "true"
"""


def gov(text: str) -> dict[str, str]:
    """``steps/gov.yaml`` holding the valid ``lint`` step (lines 1-4), then ``text``."""
    return {"steps/gov.yaml": LINT + textwrap.dedent(text)}


BDD = """\
- id: bdd
  tier: governance
  description: BDD scenarios
  run: "true"
"""

# (files, the exact messages) for every bad input of the issue, and a few more.
BAD_INPUTS = {
    "invalid YAML": (
        gov("- id: bdd\n   tier: governance\n"),
        ["steps/gov.yaml:6: invalid YAML: mapping values are not allowed in this context"],
    ),
    "a step that is a string": (
        gov("- behave --tags=@smoke\n"),
        ["steps/gov.yaml:5: step #2: expected a mapping, got str"],
    ),
    "a step that is a list": (
        gov("- [bdd, governance]\n"),
        ["steps/gov.yaml:5: step #2: expected a mapping, got a list"],
    ),
    "a document that is neither a list nor has steps": (
        {"steps/gov.yaml": "id: bdd\ntier: governance\n"},
        ["steps/gov.yaml:1: expected a list of steps or a mapping with a 'steps:' list"],
    ),
    "missing id": (
        gov("- tier: governance\n  description: BDD scenarios\n  run: behave\n"),
        ["steps/gov.yaml:5: step #2: missing required key 'id'"],
    ),
    "missing tier": (
        gov("- id: bdd\n  description: BDD scenarios\n  run: behave\n"),
        ["steps/gov.yaml:5: step 'bdd': missing required key 'tier'"],
    ),
    "missing description": (
        gov("- id: bdd\n  tier: governance\n  run: behave\n"),
        ["steps/gov.yaml:5: step 'bdd': missing required key 'description'"],
    ),
    "bad id characters": (
        gov(BDD.replace("id: bdd", "id: bdd suite!")),
        [
            "steps/gov.yaml:5: step 'bdd suite!': id must match ^[A-Za-z0-9_-]+$ "
            "(letters, digits, '_' and '-')"
        ],
    ),
    "unknown tier": (
        gov(BDD.replace("tier: governance", "tier: core")),
        [
            "steps/gov.yaml:6: step 'bdd': unknown tier 'core' "
            "(expected one of: kernel, governance, optional)"
        ],
    ),
    "unknown severity": (
        gov(BDD + "  severity: high\n"),
        [
            "steps/gov.yaml:9: step 'bdd': unknown severity 'high' "
            "(expected one of: critical, warning, info)"
        ],
    ),
    "unknown category": (
        gov(BDD + "  category: style\n"),
        [
            "steps/gov.yaml:9: step 'bdd': unknown category 'style' "
            "(expected one of: security, performance, correctness, governance)"
        ],
    ),
    "unknown key with a suggestion": (
        gov(BDD + "  tmeout: 30\n"),
        ["steps/gov.yaml:9: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)"],
    ),
    "unknown key without a suggestion": (
        gov(BDD + "  owner: alice\n"),
        ["steps/gov.yaml:9: step 'bdd': unknown key 'owner'"],
    ),
    "both run and check": (
        gov(BDD + "  check: gherkin\n"),
        ["steps/gov.yaml:9: step 'bdd': use only one of run, check or python (found run, check)"],
    ),
    "neither run nor check nor python": (
        gov("- id: bdd\n  tier: governance\n  description: BDD scenarios\n"),
        ["steps/gov.yaml:5: step 'bdd': needs one of 'run', 'check' or 'python'"],
    ),
    "an empty command": (
        gov(BDD.replace('run: "true"', 'run: ""')),
        ["steps/gov.yaml:8: step 'bdd': 'run' has an empty command"],
    ),
    "an empty command in a list": (
        gov(BDD.replace('run: "true"', 'run: ["true", "  "]')),
        ["steps/gov.yaml:8: step 'bdd': 'run' has an empty command"],
    ),
    "timeout zero": (
        gov(BDD + "  timeout: 0\n"),
        ["steps/gov.yaml:9: step 'bdd': 'timeout' must be greater than 0, got 0"],
    ),
    "timeout negative": (
        gov(BDD + "  timeout: -5\n"),
        ["steps/gov.yaml:9: step 'bdd': 'timeout' must be greater than 0, got -5"],
    ),
    "timeout not a number": (
        gov(BDD + "  timeout: 5m\n"),
        ["steps/gov.yaml:9: step 'bdd': 'timeout' must be a number of seconds, got '5m'"],
    ),
    "timeout not finite": (
        gov(BDD + "  timeout: .nan\n"),
        ["steps/gov.yaml:9: step 'bdd': 'timeout' must be a finite number of seconds, got nan"],
    ),
    "depends_on a string, not a list": (
        gov(BDD + "  depends_on: lint\n"),
        ["steps/gov.yaml:9: step 'bdd': 'depends_on' must be a list of strings"],
    ),
    "duplicate id in one file": (
        gov(LINT),
        ["steps/gov.yaml:5: step 'lint': duplicate id (first defined at steps/gov.yaml:1)"],
    ),
    "duplicate id across files": (
        {"steps/a.yaml": LINT, "steps/b.yaml": BDD + LINT},
        ["steps/b.yaml:5: step 'lint': duplicate id (first defined at steps/a.yaml:1)"],
    ),
    "unknown dependency with a suggestion": (
        gov(BDD + "  depends_on: [lnt]\n"),
        ["steps/gov.yaml:5: step 'bdd': depends on unknown step 'lnt' (did you mean 'lint'?)"],
    ),
    "unknown dependency": (
        gov(BDD + "  depends_on: [unit-tests]\n"),
        ["steps/gov.yaml:5: step 'bdd': depends on unknown step 'unit-tests'"],
    ),
    "self dependency": (
        gov(BDD + "  depends_on: [bdd]\n"),
        ["steps/gov.yaml:5: step 'bdd': depends on itself"],
    ),
    "a cycle": (
        {"steps/gov.yaml": LINT + "  depends_on: [bdd]\n" + BDD + "  depends_on: [lint]\n"},
        ["steps/gov.yaml:1: step 'lint': dependency cycle: lint -> bdd -> lint"],
    ),
    "a cycle across files, behind a step that depends on it": (
        {
            "steps/a.yaml": LINT + "  depends_on: [bdd]\n",
            "steps/b.yaml": BDD + "  depends_on: [docs]\n",
            "steps/c.yaml": BDD.replace("bdd", "docs") + "  depends_on: [bdd]\n",
        },
        ["steps/b.yaml:1: step 'bdd': dependency cycle: bdd -> docs -> bdd"],
    ),
    "an unknown top-level key": (
        {"steps/gov.yaml": "steps:\n  - id: lint\n    tier: kernel\n    run: x\nowner: bob\n"},
        [
            "steps/gov.yaml:5: unknown top-level key 'owner'",
            "steps/gov.yaml:2: step 'lint': missing required key 'description'",
        ],
    ),
}
