"""Prices in credits: what a task reserves at submit and what it settles on at the end.

With no `[prices]` table a credit is one second of output video. A table gives, per model
and resolution tier, credits per second and a fixed amount per task, with a `default` row
for models it does not list. A task keeps the price it was accepted at.

Settlement policy: a completed task is charged its accepted price applied to the seconds
the provider reported (DashScope's `usage.duration`, which counts input video seconds too),
whether that is more or less than what was reserved; a task that reported nothing is charged
its reservation. A failed or cancelled task is refunded its whole reservation.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_ROW", "TIERS", "UNIT_PRICE", "Price", "PriceRow", "PriceTable", "settlement"]

TIERS = ("480P", "720P", "1080P")
DEFAULT_ROW = "default"


@dataclass(frozen=True)
class Price:
    """Credits per output second, and a fixed amount per task."""

    per_second: float = 1.0
    per_task: float = 0.0

    def cost(self, seconds: float) -> float:
        """Credits for a task of ``seconds`` seconds."""
        return round(self.per_task + self.per_second * seconds, 6)


UNIT_PRICE = Price()
"""One credit per output second: the price of every task where no table is configured."""


def settlement(price: Price, reserved: float, reported_seconds: float | None) -> float:
    """Credits a completed task is charged, under the policy in this module's docstring."""
    if reported_seconds is None:
        return reserved
    return price.cost(max(0.0, reported_seconds))


class PriceRow(BaseModel):
    """One row of the `[prices]` table: a rate per tier, a fallback rate, a fixed amount."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    per_second: float | None = Field(default=None, ge=0)
    per_task: float | None = Field(default=None, ge=0)
    p480: float | None = Field(default=None, ge=0, alias="480P")
    p720: float | None = Field(default=None, ge=0, alias="720P")
    p1080: float | None = Field(default=None, ge=0, alias="1080P")

    def rate(self, tier: str) -> float | None:
        """Credits per second for a tier: its own rate, else the row's ``per_second``."""
        by_tier = {"480P": self.p480, "720P": self.p720, "1080P": self.p1080}.get(tier.upper())
        return by_tier if by_tier is not None else self.per_second


class PriceTable(BaseModel):
    """`[prices.MODEL]` rows, and `[prices.default]` for models no row names."""

    model_config = ConfigDict(extra="forbid")

    rows: dict[str, PriceRow] = Field(default_factory=dict)

    def price(self, model: str, tier: str) -> Price:
        """The price of a task of ``model`` at resolution ``tier``.

        The rate is the model row's (its tier, else its ``per_second``), else the default
        row's, else one credit a second; the fixed amount is the first of those rows to give
        one, else none.
        """
        rows = [row for row in (self.rows.get(model), self.rows.get(DEFAULT_ROW)) if row]
        rate = next((r for r in (row.rate(tier) for row in rows) if r is not None), 1.0)
        fixed = next((row.per_task for row in rows if row.per_task is not None), 0.0)
        return Price(per_second=rate, per_task=fixed)
