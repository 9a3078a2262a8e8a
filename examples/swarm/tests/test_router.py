import pytest

from swarm.router import Agent, NoAgentError, Router

AGENTS = [
    Agent("planner", frozenset({"plan"})),
    Agent("builder", frozenset({"implement", "refactor"})),
]


def test_a_task_goes_to_the_agent_owning_its_skill() -> None:
    assert Router(AGENTS).route("implement") == "builder"


def test_a_task_no_agent_can_do_is_refused() -> None:
    with pytest.raises(NoAgentError, match="no agent has the skill 'translate'"):
        Router(AGENTS).route("translate")


def test_two_owners_of_one_skill_are_refused() -> None:
    with pytest.raises(ValueError, match="owned by both planner and copycat"):
        Router([*AGENTS, Agent("copycat", frozenset({"plan"}))])


def test_skills_are_listed_sorted() -> None:
    assert Router(AGENTS).skills == ["implement", "plan", "refactor"]
