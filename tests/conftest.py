import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hub

# The original raw files (never copied into the repository); CI has ../shared beside the clone.
RAW_DIR = Path(os.environ.get("ENCODER_FT_RAW_DIR", REPO.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    if not (RAW_DIR / "rotten_tomatoes").is_dir():
        pytest.fail(f"raw datasets not found at {RAW_DIR}; set ENCODER_FT_RAW_DIR")
    return RAW_DIR
