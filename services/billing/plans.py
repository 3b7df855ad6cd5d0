"""The plans on sale: names, agent limits and monthly prices, with Stripe price ids from the settings."""
from dataclasses import dataclass

from ..platform.settings import get_settings


@dataclass(frozen=True)
class Plan:
    name: str
    agents: int
    monthly_usd: int
    price_id: str


PER_AGENT_PLAN = 'agent'


def plans() -> list[Plan]:
    """Plans offered for subscription."""
    settings = get_settings()
    return [Plan('starter', 1, 99, settings.stripe_price_starter), Plan('pro', 3, 199, settings.stripe_price_pro),
            Plan('business', 10, 299, settings.stripe_price_business)]


def find_plan(name: str) -> Plan | None:
    if name == PER_AGENT_PLAN:
        return Plan(PER_AGENT_PLAN, 1, 0, get_settings().stripe_price_agent)
    return next((plan for plan in plans() if plan.name == name), None)


def plan_for_price(price_id: str) -> Plan | None:
    settings = get_settings()
    if price_id and price_id == settings.stripe_price_agent:
        return find_plan(PER_AGENT_PLAN)
    return next((plan for plan in plans() if plan.price_id and plan.price_id == price_id), None)


def billing_is_configured() -> bool:
    settings = get_settings()
    if not settings.stripe_secret_key:
        return False
    if settings.billing_mode == 'per_agent':
        return bool(settings.stripe_price_agent)
    return all(plan.price_id for plan in plans())
