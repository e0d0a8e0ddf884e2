from __future__ import annotations

import pytest

from ..tui.helpers import prepare_db, dash_config


@pytest.fixture
def db(tmp_path) -> str:
    return prepare_db(tmp_path / "workflow.db")


@pytest.fixture
def cfg():
    return dash_config()
