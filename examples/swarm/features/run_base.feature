Feature: Flow artefacts live under RUN_BASE
  Each run writes into its own folder; flows name it RUN_BASE/ and never a fixed path.

  @AC-4
  Scenario Outline: An artefact path is resolved under the run's folder
    When the artefact "<artefact>" is resolved for the run folder "runs/42"
    Then its path is "<path>"

    Examples:
      | artefact                     | path                        |
      | RUN_BASE/build/changes.patch | runs/42/build/changes.patch |
      | RUN_BASE/plan/plan.md        | runs/42/plan/plan.md        |

  @AC-5
  Scenario: A path outside RUN_BASE is refused
    When the artefact "/srv/runs/42/plan.md" is resolved
    Then it is refused because it must start with RUN_BASE/
