"""The one configured Stripe client: key, pinned API version, base address, timeouts and network retries.

Everything that talks to Stripe goes through `call()`, which turns the SDK's exceptions into BillingError
with a message that names the fix; callers run it off the event loop (`run.io_bound`).
"""
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import stripe

from ..platform.errors import DomainError
from ..platform.settings import get_settings

API_VERSION = '2026-10-28.endive'
"""Pinned here only. Since 2025-03-31 a subscription's period end lives on its items."""
TIMEOUT_SECONDS = 20
NETWORK_RETRIES = 2


class StripeCallError(DomainError):
    """A Stripe call failed; `transient` says whether trying again later can help."""

    def __init__(self, code: str, message: str, *, transient: bool) -> None:
        super().__init__(code, message)
        self.transient = transient


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, stripe_version=API_VERSION, base_addresses={'api': api_base},
                               max_network_retries=NETWORK_RETRIES,
                               http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS))


def client() -> stripe.StripeClient:
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise StripeCallError('BILLING_NOT_CONFIGURED', 'Billing is not set up: STRIPE_SECRET_KEY is unset.',
                              transient=False)
    return _client_for(settings.stripe_secret_key, settings.stripe_api_base)


def call(operation: Callable[[stripe.StripeClient], Any]) -> dict:
    """Run one SDK call and return the object as a plain dict (SDK objects are not dicts since v15)."""
    try:
        result = operation(client())
    except stripe.AuthenticationError as error:
        raise StripeCallError('STRIPE_AUTH_FAILED', f'Stripe refused the API key ({error.user_message or error}); '
                                                    'check STRIPE_SECRET_KEY.', transient=False) from error
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeCallError('STRIPE_UNAVAILABLE', f'Stripe could not be reached: {error}', transient=True) \
            from error
    except stripe.InvalidRequestError as error:
        raise StripeCallError('STRIPE_REQUEST_FAILED', f'Stripe refused the request: {error.user_message or error}',
                              transient=False) from error
    except stripe.StripeError as error:
        transient = error.http_status is None or error.http_status >= 500
        raise StripeCallError('STRIPE_UNAVAILABLE' if transient else 'STRIPE_REQUEST_FAILED',
                              f'Stripe failed: {error.user_message or error}', transient=transient) from error
    return result.to_dict() if hasattr(result, 'to_dict') else result
