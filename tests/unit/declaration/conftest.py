"""Fixtures for the declaration unit tests (see `support.py` for the fakes they use)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from services.declaration.domain.declaration import Declaration
from services.declaration.intake import validate_body, validate_document

from .support import COUNTRIES, CURRENCIES, ON_DATE, SAMPLE_DOCUMENT, FakeTariff, make_tariff


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh deep copy of the sample document, free to modify."""
    return copy.deepcopy(SAMPLE_DOCUMENT)


@pytest.fixture
def tariff() -> FakeTariff:
    return make_tariff()


Validate = Callable[..., Declaration]


@pytest.fixture
def validate(tariff: FakeTariff) -> Validate:
    """`validate(document, **overrides)`: `validate_document` with the fakes."""

    def run(document: Any, **overrides: Any) -> Declaration:
        kwargs: dict[str, Any] = {
            "on_date": ON_DATE,
            "tariff": tariff,
            "countries": COUNTRIES,
            "currencies": CURRENCIES,
            **overrides,
        }
        return validate_document(document, **kwargs)

    return run


@pytest.fixture
def validate_bytes(tariff: FakeTariff) -> Callable[..., Declaration]:
    def run(body: bytes, **overrides: Any) -> Declaration:
        kwargs: dict[str, Any] = {
            "on_date": ON_DATE,
            "tariff": tariff,
            "countries": COUNTRIES,
            "currencies": CURRENCIES,
            **overrides,
        }
        return validate_body(body, **kwargs)

    return run
