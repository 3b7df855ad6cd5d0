import configparser
import re
from pathlib import Path

from services.settings import Settings

DEPLOY = Path(__file__).parent.parent / 'deploy'


def test_the_env_example_lists_every_setting():
    listed = set(re.findall(r'^#? ?([A-Z_]+)=', (DEPLOY / 'agenthost.env.example').read_text(), flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= listed


def test_the_env_example_is_a_configuration_the_app_accepts():
    settings = Settings(_env_file=DEPLOY / 'agenthost.env.example')
    assert settings.public_url.startswith('https://') and settings.host == '127.0.0.1'


def test_the_systemd_unit_runs_the_binary_as_its_own_user_and_restarts_on_failure():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / 'systemd' / 'agenthost.service').read_text())
    service = unit['Service']
    assert service['User'] == 'agenthost' and service['Restart'] == 'on-failure'
    assert service['EnvironmentFile'] == '/etc/agenthost/agenthost.env'
    assert service['ExecStart'].endswith('serve --data-dir /var/lib/agenthost')
    assert service['NoNewPrivileges'] == 'yes' and service['ProtectSystem'] == 'strict'


def test_caddy_proxies_to_the_default_address_of_the_app():
    caddyfile = (DEPLOY / 'caddy' / 'Caddyfile').read_text()
    defaults = Settings(_env_file=None)
    assert f'reverse_proxy {defaults.host}:{defaults.port}' in caddyfile
