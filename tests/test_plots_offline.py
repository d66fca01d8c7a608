"""The pages of `dvc plots show` and `dvc plots diff` render offline. Each page is opened in headless
Chromium with the network off: every plot DVC wrote into it must draw (one Vega canvas or SVG per
plot) and the page must request nothing but local files. The builds come inlined from
reports/vendor/vega/plots-template.html (`plots.html_template` in .dvc/config); DVC's default page,
which loads them from a CDN, is the control: its requests are seen, and nothing draws."""
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import copy_repo, offline_env
from tools.vendor_vega import PINS

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a headless browser: chromium not on PATH "
                                "(Debian: apt-get install chromium; .ci/run installs it)")
LOCAL = ("file:", "data:", "blob:", "about:")  # schemes that never leave the machine


class Chromium:
    """Headless Chromium with the network off, driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), so no websocket package is needed."""

    def __init__(self, profile: Path):
        commands, self._commands = os.pipe()
        self._replies, replies = os.pipe()
        flags = ["--headless", "--no-sandbox", "--no-first-run", "--disable-gpu", "--remote-debugging-pipe",
                 f"--user-data-dir={profile}",
                 # network off: requests go to a closed loopback port (loopback too), host lookups fail
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                 "--host-resolver-rules=MAP * ~NOTFOUND"]
        self.log = profile.with_suffix(".log")
        # sh moves the pipes from stdin and stdout to the fds 3 and 4 where Chromium expects them
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["sh", "-c", 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null', "sh",
                                          CHROMIUM, *flags], stdin=commands, stdout=replies, stderr=log)
        os.close(commands)
        os.close(replies)
        self._buffer, self._id, self.events = b"", 0, []

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and return its result; events that arrive meanwhile go to self.events."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        os.write(self._commands, json.dumps({**message, "sessionId": session} if session else message)
                 .encode() + b"\0")
        deadline = time.monotonic() + 60
        while (reply := self._next(deadline)).get("id") != self._id:
            self.events.append(reply)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def evaluate(self, session: str, expression: str):
        """The value of a JavaScript expression in the tab (None where it threw)."""
        reply = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return reply["result"].get("value")

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("chromium did not answer in 60 s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited: {self.log.read_text(errors='replace')[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._commands)
        os.close(self._replies)


def open_offline(browser: Chromium, page: Path, ids: list[str], settle: float = 3.0):
    """Open `page` in a new tab; wait until every plot in `ids` drew, or nothing changed for `settle`
    seconds after the load. Returns (marks drawn per plot id, every URL the tab requested, the
    exceptions it threw, the tab's session)."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    browser.send("Network.enable", session)
    browser.send("Runtime.enable", session)
    browser.send("Page.navigate", session, url=page.as_uri())
    # vega draws into a canvas (vega-embed's default) or an svg with class "marks", one per view
    drawn = (f"location.href === {json.dumps(page.as_uri())} && document.readyState === 'complete'"
             f" && {json.dumps(ids)}.map(id => document.getElementById(id)"
             "?.querySelectorAll('canvas.marks, svg.marks').length ?? -1)")
    last, since, deadline = None, time.monotonic(), time.monotonic() + 120
    while time.monotonic() < deadline:
        counts = browser.evaluate(session, drawn)
        if counts and all(counts):
            break
        if counts != last:
            last, since = counts, time.monotonic()
        elif counts and time.monotonic() - since > settle:
            break
        time.sleep(0.2)
    events = [e for e in browser.events if e.get("sessionId") == session]
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    thrown = [e["params"]["exceptionDetails"] for e in events if e["method"] == "Runtime.exceptionThrown"]
    errors = [t.get("exception", {}).get("description") or t["text"] for t in thrown]
    return dict(zip(ids, counts or [])), requests, errors, session


def plot_ids(page: Path) -> list[str]:
    """The plots DVC wrote into the page: each is a div whose script calls vegaEmbed('#<id>', spec)."""
    return re.findall(r"vegaEmbed\('#([^']+)'", page.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A git repository with the repository's files, metrics included, committed on `main`; then a
    changed freeze-sweep point in the workspace, so that `dvc plots diff main` has two revisions."""
    repo = copy_repo(tmp_path_factory.mktemp("plots") / "repo", skip=("tests/",))
    env = offline_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                      GIT_COMMITTER_EMAIL="t@e")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
    sweep = repo / "metrics/freeze_sweep.csv"
    head, first, *rest = sweep.read_text().splitlines()
    f1 = head.split(",").index("f1")
    first = first.split(",")
    first[f1] = str(float(first[f1]) - 0.05)
    sweep.write_text("\n".join([head, ",".join(first), *rest]) + "\n")
    return repo, env


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def dvc(workspace, *args: str) -> None:
    repo, env = workspace
    proc = subprocess.run(["dvc", "plots", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def assert_renders_offline(browser: Chromium, page: Path) -> str:
    assert "<script src" not in page.read_text(encoding="utf-8")  # nothing to fetch, not even locally
    ids = plot_ids(page)
    assert ids, "no plots on the page"
    drawn, requests, errors, session = open_offline(browser, page, ids)
    not_drawn = [i for i in ids if drawn.get(i) != 1]
    assert not not_drawn, f"{len(not_drawn)} of {len(ids)} plots did not draw: {not_drawn}; errors: {errors}"
    assert page.as_uri() in requests  # the recording works ...
    assert [url for url in requests if not url.startswith(LOCAL)] == []  # ... and saw nothing leave
    return session


def test_plots_show_renders_offline(workspace, browser):
    dvc(workspace, "show")
    page = workspace[0] / "dvc_plots/index.html"
    assert "train_loss" in plot_ids(page)  # dvc.yaml's top-level plot, beside the stages' plots
    session = assert_renders_offline(browser, page)
    versions = browser.evaluate(session, "[vega.version, vegaLite.version, vegaEmbed.version]")
    assert versions == [version for version, _ in PINS.values()]  # the pinned builds ran


def test_plots_diff_renders_offline_wherever_the_page_goes(workspace, browser, tmp_path):
    dvc(workspace, "diff", "main", "-o", str(tmp_path / "diff"))  # outside the repository
    page = tmp_path / "diff/index.html"
    text = page.read_text(encoding="utf-8")
    assert '"rev": "main"' in text and '"rev": "workspace"' in text
    assert_renders_offline(browser, page)


def test_dvcs_default_cdn_page_is_the_control(workspace, browser, tmp_path):
    """With DVC's own page the same setup sees the CDN requests and draws nothing: the network is
    really off, and a request that tries to leave is recorded."""
    from dvc_render.html import PAGE_HTML

    (tmp_path / "default.html").write_text(PAGE_HTML, encoding="utf-8")
    dvc(workspace, "show", "--html-template", str(tmp_path / "default.html"), "-o", str(tmp_path / "cdn"))
    page = tmp_path / "cdn/index.html"
    ids = plot_ids(page)
    drawn, requests, errors, _ = open_offline(browser, page, ids)
    assert ids and drawn == dict.fromkeys(ids, 0)
    assert {url.split("@")[0] for url in requests if not url.startswith(LOCAL)} == {
        f"https://cdn.jsdelivr.net/npm/{package}" for package in ("vega", "vega-lite", "vega-embed")}
    assert any("vegaEmbed is not defined" in (error or "") for error in errors)
