"""The documented examples (doctests) of the payment domain and the reference loaders run.

(Their purity is checked with every other domain in tests/unit/test_domain_purity.py.)
"""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    ["shared.reference", "shared.reference.tariff", "services.payment.domain.duty"],
)
def test_the_documented_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
