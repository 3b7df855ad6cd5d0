"""Open pages follow their account: actions re-check it when they run, and pages leave when it changes."""
from nicegui.testing import User

from models import Agent, ApiToken, ProvisioningJob
from models import User as Account
from services.accounts import accounts
from services.billing import billing
from services.operator import admin
from services.platform import events
from tests.factories import make_agent, make_user
from tests.pages_support import log_in, log_in_as_admin
from tests.provisioning_support import github  # noqa: F401

LOGIN_PAGE = 'Log in to AgentHost'


def disable_elsewhere(account: Account) -> None:
    """Disable the account the way another process (the command line, SQL) would: no live event reaches the page."""
    Account.update(is_disabled=True).where(Account.id == account.id).execute()


async def test_a_disabled_users_open_agent_page_cannot_deploy(github, user: User):
    owner = await log_in(user, 'owner@example.com')
    billing.grant_complimentary(user=owner, plan='pro', granted_by='tests')
    agent = make_agent(owner)
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='deploy')
    disable_elsewhere(owner)
    user.find(marker='deploy').click()
    await user.should_see(LOGIN_PAGE, retries=50)
    assert not ProvisioningJob.select().exists()
    assert Agent.get_by_id(agent.id).status == 'draft'


async def test_a_disabled_admins_open_admin_page_cannot_disable_the_other_admin(user: User):
    acting = await log_in_as_admin(user)
    other = make_user('other-admin@example.com', is_admin=True)
    await user.open('/admin')
    await user.should_see(marker=f'disable-{other.id}', retries=50)
    disable_elsewhere(acting)
    user.find(marker=f'disable-{other.id}').click()
    await user.should_see(LOGIN_PAGE, retries=50)
    assert not Account.get_by_id(other.id).is_disabled


async def test_an_open_admin_page_cannot_act_once_admin_rights_are_revoked(user: User):
    acting = await log_in_as_admin(user)
    customer = make_user('customer@example.com')
    await user.open('/admin')
    await user.should_see(marker=f'disable-{customer.id}', retries=50)
    Account.update(is_admin=False).where(Account.id == acting.id).execute()
    user.find(marker=f'disable-{customer.id}').click()
    await user.should_see('No agents yet', retries=50)
    assert not Account.get_by_id(customer.id).is_disabled


async def test_a_logged_out_tab_cannot_create_an_api_token(user: User, monkeypatch):
    account = await log_in(user, 'leaving@example.com')
    await user.open('/settings')
    monkeypatch.setattr(events, 'account_updated', lambda user_id: None)  # the tab hears nothing of the logout
    await user.http_client.post('/logout', headers={'Origin': 'http://test'})
    user.find(marker='token-name').type('after logout')
    user.find(marker='create-token').click()
    await user.should_see(LOGIN_PAGE, retries=50)
    assert not ApiToken.select().where(ApiToken.user == account.id).exists()


async def test_disabling_an_account_sends_its_open_pages_to_login(user: User):
    account = await log_in(user, 'soon-off@example.com')
    await user.open('/settings')
    admin.set_account_disabled(user_id=account.id, disabled=True)
    await user.should_see(LOGIN_PAGE, retries=50)


async def test_logging_out_sends_the_browsers_open_pages_to_login(user: User):
    await log_in(user, 'leaving@example.com')
    await user.open('/settings')
    await user.http_client.post('/logout', headers={'Origin': 'http://test'})
    await user.should_see(LOGIN_PAGE, retries=50)


async def test_revoking_admin_rights_sends_an_open_admin_page_away(user: User):
    acting = await log_in_as_admin(user)
    await user.open('/admin')
    await user.should_see('Setup checklist', retries=50)
    accounts.set_admin(acting.email, is_admin=False)
    await user.should_see('No agents yet', retries=50)
    await user.should_not_see('Setup checklist')


async def test_a_page_of_another_user_stays_when_someone_is_disabled(user: User):
    await log_in(user, 'stays@example.com')
    await user.open('/settings')
    admin.set_account_disabled(user_id=make_user('other@example.com').id, disabled=True)
    user.find(marker='token-name').type('still here')
    user.find(marker='create-token').click()
    await user.should_see(marker='new-token', retries=50)
