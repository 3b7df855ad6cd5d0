"""`GET /openapi.json` and `/docs`: the JSON API described, and browsable in Swagger UI served from this app.

NiceGUI's app turns FastAPI's own docs off; these routes describe only the API (`/api/…`, `/healthz`), not the
pages. Swagger UI's files come from the `swagger-ui-bundle` package, so `/docs` works offline and under the
Content-Security-Policy that allows only this origin.
"""
import functools

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

ASSETS_PATH = '/docs-assets'
ASSETS_FOLDER = swagger_ui_bundle.swagger_ui_path
DESCRIBED_PREFIXES = ('/api/', '/healthz')
TITLE = 'AgentHost API'
VERSION = '0.1.0'
DESCRIPTION = ('Authenticate with `Authorization: Bearer <token>` (POST /api/auth/token, or Settings → API tokens). '
               'Every error answers `{"error": {"code", "message", "field"?}}`.')

router = APIRouter(include_in_schema=False)


@functools.cache
def described(app: FastAPI) -> dict:
    schema = get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes)
    schema['paths'] = {path: operations for path, operations in schema['paths'].items()
                       if path.startswith(DESCRIBED_PREFIXES)}
    return schema


@router.get('/openapi.json')
async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(described(request.app))


@router.get('/docs')
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url='/openapi.json', title=TITLE,
                               swagger_js_url=f'{ASSETS_PATH}/swagger-ui-bundle.js',
                               swagger_css_url=f'{ASSETS_PATH}/swagger-ui.css',
                               swagger_favicon_url=f'{ASSETS_PATH}/favicon-32x32.png')
