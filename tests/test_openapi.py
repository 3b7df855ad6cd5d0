"""The API describes itself: `GET /openapi.json` has every `/api` route with its answer, request body and error
shape, and `/docs` shows it in Swagger UI served from this app."""
import re

import pytest
from nicegui.testing import User

from tests.factories import make_user

DOCUMENTED_BODIES = {('post', '/api/agents'), ('patch', '/api/agents/{agent_id}'), ('post', '/api/auth/token'),
                     ('post', '/api/billing/checkout'), ('post', '/api/agents/{agent_id}/keys'),
                     ('post', '/api/agents/{agent_id}/chat'), ('post', '/api/provisioning/callback'),
                     ('post', '/api/provisioning/bootstrap'), ('post', '/api/runtime/heartbeat')}
NO_CONTENT = {('delete', '/api/agents/{agent_id}/keys/{key_id}')}


@pytest.fixture
async def described(user: User) -> dict:
    answer = await user.http_client.get('/openapi.json')
    assert answer.status_code == 200
    return answer.json()


def operations(schema: dict):
    for path, methods in schema['paths'].items():
        for method, operation in methods.items():
            yield method, path, operation


def success_schema(operation: dict) -> dict | None:
    for status, response in operation['responses'].items():
        if status.startswith('2'):
            return response.get('content', {}).get('application/json', {}).get('schema')
    return None


async def test_only_the_api_is_described_not_the_pages(described: dict):
    paths = set(described['paths'])
    assert '/api/agents' in paths and '/api/runtime/config' in paths and '/healthz' in paths
    assert not [path for path in paths if not path.startswith(('/api/', '/healthz'))]


async def test_every_api_answer_has_a_model_with_properties(described: dict):
    components = described['components']['schemas']
    for method, path, operation in operations(described):
        if (method, path) in NO_CONTENT or path == '/healthz':
            continue
        schema = success_schema(operation)
        assert schema and '$ref' in schema, f'{method.upper()} {path} has no answer model'
        assert components[schema['$ref'].rsplit('/', 1)[1]]['properties'], f'{method.upper()} {path}'


async def test_request_bodies_are_described(described: dict):
    for method, path in DOCUMENTED_BODIES:
        body = described['paths'][path][method].get('requestBody')
        assert body and body['content']['application/json']['schema']['properties'], f'{method.upper()} {path}'
    chat = described['paths']['/api/agents/{agent_id}/chat']['post']['requestBody']
    assert 'user' in str(chat) and '$defs' not in str(chat)


async def test_errors_are_described_in_their_one_shape(described: dict):
    error = described['components']['schemas']['ErrorDetail']
    assert set(error['properties']) == {'code', 'message', 'field'}
    deploy = described['paths']['/api/agents/{agent_id}/deploy']['post']['responses']
    assert deploy['409']['content']['application/json']['schema']['$ref'].endswith('/ErrorAnswer')


async def test_docs_page_uses_only_files_of_this_app(user: User):
    make_user()
    answer = await user.http_client.get('/docs')
    assert answer.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
    assert sources and all(source.startswith('/') for source in sources), sources
    for source in sources:
        assert (await user.http_client.get(source)).status_code == 200, source
