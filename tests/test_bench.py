"""`make bench` on a machine without Chromium stops at once with one line saying what to install."""
import sys

import pytest

from bench import __main__ as bench_main
from bench import browser


def test_a_machine_with_chromium_and_its_driver_lacks_nothing(monkeypatch):
    monkeypatch.setattr(browser, 'CHROMIUM', browser.Path(sys.executable))
    monkeypatch.setattr(browser, 'CHROMEDRIVER', browser.Path(sys.executable))
    assert browser.missing_browser() is None


def test_bench_without_chromium_stops_with_one_line_naming_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(browser, 'CHROMIUM', tmp_path / 'chromium')
    monkeypatch.setattr(browser, 'CHROMEDRIVER', tmp_path / 'chromedriver')
    monkeypatch.setattr(sys, 'argv', ['bench'])
    monkeypatch.setattr(bench_main, 'measure_webhook_ingest', lambda runs: pytest.fail('the bench started'))
    with pytest.raises(SystemExit) as stopped:
        bench_main.main()
    message = str(stopped.value.code)
    assert len(message.splitlines()) == 1
    assert str(tmp_path / 'chromium') in message and str(tmp_path / 'chromedriver') in message
    assert 'apt-get install chromium chromium-driver' in message
