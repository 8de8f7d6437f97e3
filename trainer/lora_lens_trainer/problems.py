"""Refusals the user fixes in the config or on the command line, with the advice the editor shows beside them."""

from __future__ import annotations

from .plan import PlanError


class ConfigProblem(PlanError):
    def __init__(self, message: str, advice: list[str]) -> None:
        super().__init__(message)
        self.advice = advice
