"""Billing: plans and what they entitle (`plans`, `entitlements`), the deploy gate (`gate`), checkout,
subscriptions and enforcement (`billing`), the Stripe API (`stripe_api`), and Stripe's webhooks: stored once and
processed by a background worker (`stripe_webhooks` on `platform.webhook_store` and `platform.retry`,
`stripe_worker` on `platform.workers`). Other packages import these modules by name.
"""

__all__ = ['billing', 'entitlements', 'gate', 'plans', 'stripe_api', 'stripe_webhooks', 'stripe_worker']
