"""The registry contract (tests/registry_contract.py) against the stub the unit tests use."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.registry_contract import CONTRACT
from tests.stub_registry import serving


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with serving() as (_, url):
        yield url


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
def test_the_stub_keeps_the_registry_contract(check: Callable[[str], None], stub_url: str) -> None:
    check(stub_url)
