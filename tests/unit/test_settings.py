"""One table of settings (`shared/settings.py`): each service's `config.yaml` reads only
variables of that table, with the same defaults, and the README's configuration table lists
every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.settings import DEFAULTS, SERVICES, http_address, setting

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+):([^}]*)\}")


@pytest.mark.parametrize("service", SERVICES)
def test_config_yaml_defaults_are_the_settings_table(service: str) -> None:
    lines = (ROOT / "services" / service / "config.yaml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    found = PLACEHOLDER.findall(text)
    assert found
    for variable, default in found:
        assert variable in DEFAULTS, f"{service}/config.yaml reads {variable}, not a setting"
        assert default == DEFAULTS[variable], (service, variable)
    assert f"${{{service.upper()}_HTTP:" in text


def test_the_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    for variable in DEFAULTS:
        assert f"`{variable}`" in table, f"README's configuration table lacks {variable}"


def test_a_blank_value_means_the_default() -> None:
    assert setting("AMQP_URI", {"AMQP_URI": "  "}) == DEFAULTS["AMQP_URI"]
    assert setting("AMQP_URI", {"AMQP_URI": "amqp://x/"}) == "amqp://x/"
    assert http_address("risk", {}) == "127.0.0.1:8002"
    with pytest.raises(KeyError):
        setting("NOT_A_SETTING", {})
