"""The README and docs/ pages link to files and headings that exist."""
import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", REPO / "data/README.md", REPO / "results/README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def without_code(text: str) -> str:
    return re.sub(r"`[^`\n]*`", "", re.sub(r"(?ms)^\s*```.*?^\s*```", "", text))


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading.strip()).lower()
    return "".join(c for c in text if c.isalnum() or c in " -_" or unicodedata.category(c)[0] == "L").replace(" ", "-")


def anchors(page: Path) -> set[str]:
    headings = re.findall(r"(?m)^#{1,6} +(.+?) *#*$", re.sub(r"(?ms)^```.*?^```", "", page.read_text()))
    return {anchor(h) for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    for target in LINK.findall(without_code(page.read_text())):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: {target}"
        if fragment:
            assert fragment in anchors(dest), f"{page.name}: {target}: no such heading"


def test_the_readme_stays_a_front_page():
    assert len((REPO / "README.md").read_text()) < 10_000


SET = re.compile(r"-S\s+'?([+\w.]+)=")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_key_shown_after_dash_s_is_a_knob(page):
    """`dvc exp run -S key=…` as the pages show it names a key params.yaml has on that profile (a `+key`
    adds one, so it is left out; so is a line showing the error a bad key gets)."""
    from omegaconf import OmegaConf

    from tests.conftest import composed

    profiles = {}
    for line in page.read_text().splitlines():
        if "dvc exp run" not in line or "Could not" in line:  # (a row showing Hydra's error for a bad key)
            continue
        keys = SET.findall(line)
        chosen = re.search(r"-S\s+'?profile=(\w+)", line)
        profile = chosen.group(1) if chosen else "cpu"
        params = profiles.setdefault(profile, OmegaConf.create(composed([f"profile={profile}"])))
        for key in (k for k in keys if not k.startswith("+") and k != "profile"):
            assert OmegaConf.select(params, key, default="missing") != "missing", f"{page.name}: -S {key} ({profile})"
