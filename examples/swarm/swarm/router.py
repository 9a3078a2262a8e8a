"""Route a task to the one agent that owns the skill it needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Agent:
    """An agent and the skills it owns."""

    name: str
    skills: frozenset[str]


class NoAgentError(LookupError):
    """No agent owns the skill a task needs."""


class Router:
    """Maps each skill to its single owner."""

    def __init__(self, agents: Iterable[Agent]) -> None:
        self._owners: dict[str, str] = {}
        for agent in agents:
            for skill in sorted(agent.skills):
                owner = self._owners.setdefault(skill, agent.name)
                if owner != agent.name:
                    raise ValueError(f"skill {skill!r} is owned by both {owner} and {agent.name}")

    @property
    def skills(self) -> list[str]:
        """Every routable skill, sorted."""
        return sorted(self._owners)

    def route(self, skill: str) -> str:
        """The name of the agent that owns ``skill``."""
        if skill not in self._owners:
            raise NoAgentError(f"no agent has the skill {skill!r}")
        return self._owners[skill]
