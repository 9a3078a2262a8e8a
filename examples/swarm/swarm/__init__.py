"""A tiny agent swarm: agents own skills, flows pass work from agent to agent."""

__version__ = "0.3.0"
