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


def check_step(check: str, with_lines: str = "") -> str:
    """A step ``compiles`` (lines 5-8 after LINT) using ``check``, then its ``with:`` lines."""
    step = f"- id: compiles\n  tier: governance\n  description: Code compiles\n  check: {check}\n"
    return step + (f"  with:\n{textwrap.indent(with_lines, '    ')}" if with_lines else "")


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
    "an unknown check": (
        gov(check_step("python_compile", "paths: src\n")),
        [
            "steps/gov.yaml:8: step 'compiles': unknown check 'python_compile' "
            "(did you mean 'python-compile'?)"
        ],
    ),
    "a misspelt required check parameter": (
        gov(check_step("python-compile", "path: src\n")),
        [
            "steps/gov.yaml:10: step 'compiles': check 'python-compile' has no parameter 'path' "
            "(did you mean 'paths'?)"
        ],
    ),
    "a misspelt optional check parameter": (
        gov(check_step("forbid", "files: '*.py'\npattern: /home/\nmesage: use RUN_BASE\n")),
        [
            "steps/gov.yaml:12: step 'compiles': check 'forbid' has no parameter 'mesage' "
            "(did you mean 'message'?)"
        ],
    ),
    "an unknown check parameter without a suggestion": (
        gov(check_step("python-compile", "paths: src\nrecursive: true\n")),
        [
            "steps/gov.yaml:11: step 'compiles': check 'python-compile' has no parameter "
            "'recursive' (its parameters: paths)"
        ],
    ),
    "a missing required check parameter": (
        gov(check_step("forbid", "files: '*.py'\n")),
        [
            "steps/gov.yaml:9: step 'compiles': check 'forbid' is missing the required "
            "parameter 'pattern'"
        ],
    ),
    "a check without its with": (
        gov(check_step("python-compile")),
        [
            "steps/gov.yaml:8: step 'compiles': check 'python-compile' is missing the required "
            "parameter 'paths'"
        ],
    ),
    "a check parameter of the wrong type": (
        gov(check_step("coverage", "data_file: .coverage\nfail_under: 80%\n")),
        [
            "steps/gov.yaml:11: step 'compiles': check 'coverage': 'fail_under' must be a number "
            "from 0 to 100, got '80%'"
        ],
    ),
    "an empty list of paths": (
        gov(check_step("gherkin", "paths: []\n")),
        [
            "steps/gov.yaml:10: step 'compiles': check 'gherkin': 'paths' must be a non-empty "
            "string or a non-empty list of non-empty strings, got []"
        ],
    ),
    "a flag that is a string": (
        gov(check_step("schema", "files: '*.md'\nschema: s.json\nfrontmatter: 'yes'\n")),
        [
            "steps/gov.yaml:12: step 'compiles': check 'schema': 'frontmatter' must be true "
            "or false, got 'yes'"
        ],
    ),
}
