"""Billing tells people by mail: a failed payment, and agents stopped because the entitlement ended."""
from services.billing import billing, stripe_webhooks
from tests.factories import make_agent, make_user
from tests.provisioning_support import github  # noqa: F401
from tests.smtp_server import Mailbox, smtp_server, trusted_ca, wait_for_mail  # noqa: F401
from tests.stripe_double import stripe_double  # noqa: F401


def subscribe(double, user, plan: str = 'starter') -> str:
    billing.start_checkout(user=user, plan=plan)
    session_id = list(double.sessions)[-1]
    created, _, _ = double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    return created['data']['object']['id']


def test_a_failed_payment_mails_the_customer(stripe_double, smtp_server: Mailbox):
    user = make_user('payer@example.com')
    failed = stripe_double.payment_failed(subscribe(stripe_double, user))
    payload, headers = stripe_double.signed(failed)
    stripe_webhooks.receive(payload=payload, signature=headers['Stripe-Signature'], headers=headers)
    assert stripe_webhooks.process(failed['id']) == 'processed'
    message = wait_for_mail(smtp_server)[-1]
    assert message['To'] == 'payer@example.com'
    assert 'payment' in message['Subject'].lower()


def test_an_agent_stopped_for_billing_mails_its_owner(stripe_double, github, smtp_server: Mailbox):
    user = make_user('owner@example.com')
    subscription_id = subscribe(stripe_double, user)
    make_agent(user, name='Paid bot', status='running')
    stripe_double.set_subscription_status(subscription_id, 'canceled')
    billing.sync_subscription(subscription_id)
    message = wait_for_mail(smtp_server)[-1]
    assert message['To'] == 'owner@example.com'
    assert 'Paid bot' in message['Subject']
