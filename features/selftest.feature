# The acceptance criteria of pytest-selftest, one scenario per criterion. The ids are listed,
# with their evidence, in docs/acceptance-matrix.md; the ac-status step of this repository's
# own selftest (steps/) keeps the two in agreement.
@selftest
Feature: A repository's tiered selftest runs as a pytest test suite
  Operators and CI ask one question of a change: may it go on? The selftest answers it with a
  verdict and an exit code that depend on what failed and in which environment.

  Background:
    Given a repository that opted in with a [tool.selftest] table
    And step files under steps/ declaring kernel, governance and optional steps

  @AC-1
  Scenario: Steps are pytest items marked with their tier
    When pytest collects the repository
    Then each step is an item "steps/<file>.yaml::<id>" with the markers selftest and its tier
    And "-k", "-m kernel" and "--selftest-step" select steps

  @AC-2
  Scenario: A repository that did not opt in is never touched
    Given a repository with a steps/ folder of unrelated YAML and no opt-in
    When pytest runs there
    Then nothing is collected from steps/ and no report is written

  @AC-3
  Scenario: A bad step file is a configuration error naming file, line and step
    Given a step with the unknown key "tmeout"
    When the selftest runs
    Then it exits 2 with "steps/gov.yaml:14: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)"

  @AC-4
  Scenario Outline: The environment decides what blocks
    Given one <tier> step fails
    When the selftest runs with --selftest-env=<env>
    Then the step's verdict is <verdict> and the exit code is <exit>

    Examples:
      | tier       | env     | verdict       | exit |
      | kernel     | dev     | failed        | 1    |
      | governance | dev     | tolerated     | 0    |
      | governance | staging | failed        | 1    |
      | governance | prod    | failed        | 1    |
      | optional   | staging | informational | 0    |
      | optional   | prod    | failed        | 1    |

  @AC-5
  Scenario: A waiver lets one governance failure through staging, never prod
    Given "selftest waiver create bdd --reason R --approver A" recorded an active waiver
    When the bdd step fails in staging
    Then its verdict is waived, the run exits 0 and the failure is in the degradation log
    But in prod the same failure blocks with exit 1

  @AC-6
  Scenario: A failed dependency skips its dependents
    Given graph-invariants depends on devex-contract
    When devex-contract fails, even with a waiver
    Then graph-invariants is SKIP with reason "dependency_failed:devex-contract"

  @AC-7
  Scenario: Every run writes a v2 report that validates against the shipped schema
    When the selftest runs, passes, fails or meets a configuration error
    Then selftest_report.json carries verdict, exit_code and exit_reason
    And it keeps the original keys, so "jq .summary.by_severity.critical.failed" still works

  @AC-8
  Scenario: Non-blocking failures are kept in the degradation log
    When a governance step is tolerated, waived or an optional step is informational
    Then one JSON line per failure is appended to selftest_degradations.log
    And "selftest degradations" shows it

  @AC-9
  Scenario: Built-in checks point at the file and line of each finding
    Given a step "check: forbid" over flows/*.yaml
    When a flow hard-codes a path on line 10
    Then the pytest failure lists "flows/flow.yaml:10: <message>: <the path>"

  @AC-10
  Scenario: Operators have commands for the guide's workflows
    Then "selftest smoke" runs the kernel steps without pytest
    And "selftest plan", "selftest doctor", "selftest waiver" and "selftest report --md" exist

  @AC-11
  Scenario: Parallel runs reach the same verdicts as serial ones
    When the selftest runs with "pytest -n 2"
    Then no step starts before its dependencies finished
    And the verdicts and the exit code equal those of a serial run

  @AC-12
  Scenario: The classic catalogue behaves as the operations guide says
    Given examples/swarm with the ten steps from core-checks to extras
    When each scenario of the guide is reproduced with "python break.py <scenario>"
    Then dev, staging and prod give the guide's outcome for it
