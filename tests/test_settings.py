import re
import subprocess
import sys
from pathlib import Path

import pytest

from services.platform.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).parent.parent


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / 'README.md').read_text()
    documented = set(re.findall(r'^\| `([A-Z_]+)`', readme, flags=re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= documented


def test_defaults_need_no_external_service():
    settings = Settings(_env_file=None)
    assert settings.port == 8080
    assert settings.billing_mode == 'subscription'
    assert settings.agent_regions == ['fsn1', 'nbg1', 'hel1', 'ash']


def test_default_database_lives_in_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv('DATABASE_URL')
    monkeypatch.setenv('DATA_DIR', str(tmp_path / 'here'))
    assert load_settings().resolved_database_url == f'sqlite:///{tmp_path}/here/agenthost.db'


def test_comma_separated_lists_are_split(monkeypatch):
    monkeypatch.setenv('AGENT_REGIONS', 'fsn1, ash ,')
    assert load_settings().agent_regions == ['fsn1', 'ash']


@pytest.mark.parametrize(('variable', 'value'), [('DATABASE_URL', 'foo'), ('PORT', 'eighty'),
                                                 ('BILLING_MODE', 'free'), ('PUBLIC_URL', 'example.com'),
                                                 ('AGENT_SIZES', ' , ')])
def test_malformed_value_is_refused_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_server_refuses_to_start_with_a_malformed_setting(monkeypatch):
    monkeypatch.setenv('DATABASE_URL', 'foo')
    result = subprocess.run([sys.executable, 'main.py', 'migrate'], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert 'DATABASE_URL' in result.stderr and 'sqlite:///' in result.stderr


def test_storage_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv('DATA_DIR', str(tmp_path / 'keep'))
    first = load_settings().session_secret()
    assert len(first) >= 32
    assert load_settings().session_secret() == first
