"""Model providers: only models whose provider is set up are offered, and the checklist checks each one live."""
from collections.abc import Iterator

import pytest
from nicegui.testing import User

from services.operator import setup_checklist
from services.platform import model_providers
from services.platform.settings import Settings, configure
from tests.factories import make_token, make_user
from tests.model_provider_double import Failure, ModelProviderDouble
from tests.pages_support import log_in

PROVIDER_SETTINGS = ('ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'OPENAI_API_KEY', 'OPENAI_BASE_URL')


@pytest.fixture
def providers(monkeypatch):
    """Set exactly the given provider settings (the suite's defaults set up both)."""
    def set_up(**values: str) -> None:
        for name in PROVIDER_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        configure(Settings())
    return set_up


@pytest.fixture
def double() -> Iterator[ModelProviderDouble]:
    provider = ModelProviderDouble()
    yield provider
    provider.close()


def test_only_models_of_a_set_up_provider_are_offered(providers):
    providers(ANTHROPIC_API_KEY='sk-ant-x')
    assert model_providers.offered_models() == ['claude-sonnet-4-5', 'claude-haiku-4-5']
    providers(OPENAI_BASE_URL='http://127.0.0.1:11434/v1')
    assert model_providers.offered_models() == ['gpt-4.1']


def test_a_keyless_openai_compatible_server_gets_a_placeholder_key(providers):
    providers(OPENAI_BASE_URL='http://127.0.0.1:11434/v1')
    assert model_providers.provider_config('gpt-4.1') == {'kind': 'openai', 'base_url': 'http://127.0.0.1:11434/v1',
                                                          'api_key': 'no-key'}


def test_a_base_url_must_be_http():
    with pytest.raises(ValueError, match='http:// or https://'):
        Settings(openai_base_url='127.0.0.1:11434')


async def test_the_api_refuses_a_model_whose_provider_is_not_set_up_naming_the_setting(user: User, providers):
    providers(OPENAI_API_KEY='sk-x')
    headers = make_token(make_user())
    answer = await user.http_client.post('/api/agents', json={'name': 'Bot', 'model': 'claude-sonnet-4-5'},
                                         headers=headers)
    assert (answer.status_code, answer.json()['error']['field']) == (422, 'model')
    assert 'ANTHROPIC_API_KEY' in answer.json()['error']['message']


async def test_without_any_provider_the_wizard_says_what_to_set(user: User, providers):
    providers()
    await log_in(user)
    await user.open('/agents/new')
    await user.should_see(marker='no-model-provider')
    await user.should_see('OPENAI_BASE_URL')


def test_the_checklist_asks_each_provider_for_its_models(providers, double: ModelProviderDouble):
    double.required_key = 'sk-good'
    providers(OPENAI_API_KEY='sk-good', OPENAI_BASE_URL=double.openai_url,
              ANTHROPIC_API_KEY='sk-ant-good', ANTHROPIC_BASE_URL=double.url)
    checks = {check.name: check for check in setup_checklist.provider_checks()}
    assert checks['OpenAI-compatible model provider'].ok
    assert not checks['Anthropic model provider'].ok
    assert 'ANTHROPIC_API_KEY was refused (401)' in checks['Anthropic model provider'].detail


def test_the_checklist_names_a_provider_that_fails_and_what_to_do(providers, double: ModelProviderDouble):
    providers(ANTHROPIC_API_KEY='sk-ant-good', ANTHROPIC_BASE_URL=double.url)
    double.fail_next(Failure(503, 'down for maintenance'))
    [check] = setup_checklist.provider_checks()
    assert not check.ok and f'{double.url} answered 503' in check.detail and "provider's status" in check.detail


def test_the_checklist_names_an_unreachable_provider(providers):
    providers(OPENAI_BASE_URL='http://127.0.0.1:9/v1')
    [check] = setup_checklist.provider_checks()
    assert not check.ok and 'could not be reached' in check.detail


def test_the_checklist_says_agents_cannot_answer_without_a_provider(providers):
    providers()
    [check] = setup_checklist.provider_checks()
    assert not check.ok and 'ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL' in check.detail
