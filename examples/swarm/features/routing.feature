@routing
Feature: Route tasks to agents
  The router hands every task to the one agent that owns the skill the task needs.

  Background:
    Given the agents "planner" (skill "plan") and "builder" (skills "implement", "refactor")

  @AC-1
  Scenario: A task goes to the agent owning its skill
    When a task needs "implement"
    Then it is routed to "builder"

  @AC-2
  Scenario: A task no agent can do is refused
    When a task needs "translate"
    Then routing fails with "no agent has the skill 'translate'"

  @AC-3
  Scenario: Two owners of one skill are refused
    When the agent "copycat" also claims the skill "plan"
    Then the router refuses to start
