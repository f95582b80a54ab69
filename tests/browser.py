"""Browser tests with real parts: Debian's Chromium driven by Playwright, a Jupyter server on a
loopback port with its home and Jupyter folders in a scratch folder.

`tests/conftest.py` makes fixtures of these (`browser`, `jupyter_server`); a machine without
Chromium or Playwright skips the tests that use them and says so once, at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Chromium's own background traffic is refused on these machines, many times a second.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Set by every payload in the hostile corpora when it manages to run.
MARKER = "__nnla_pwned"
TRAP = f"""() => {{
    const found = [];
    if (window.{MARKER} !== undefined) found.push("ran: " + window.{MARKER});
    for (const el of document.querySelectorAll("*")) {{
        for (const a of el.attributes) {{
            const where = el.tagName + " " + a.name;
            if (a.name.startsWith("on") && a.value.includes("{MARKER}")) found.push(where);
            if (/^\\s*javascript:/i.test(a.value)) found.push(where + "=javascript:");
        }}
    }}
    for (const s of document.scripts) if (s.textContent.includes("{MARKER}")) found.push("script element");
    return found;
}}"""


def chromium_executable() -> str | None:
    """The system's Chromium (Playwright's own download cannot work here), or None."""
    if path := os.environ.get("NNLA_CHROMIUM"):
        return path
    return next((p for name in CHROMIUM_NAMES if (p := shutil.which(name))), None)


def missing_browser() -> str | None:
    """Why browser tests cannot run on this machine, in one line, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if chromium_executable() is None:
        return "no Chromium on this machine (apt-get install chromium)"
    return None


def launch(playwright):
    args = CHROMIUM_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else [])
    return playwright.chromium.launch(executable_path=chromium_executable(), headless=True, args=args)


@dataclass
class Visit:
    """What happened on one page: dialogs opened, requests made, and what the trap found."""

    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)

    @property
    def anything_ran(self) -> bool:
        return bool(self.dialogs or self.found or any(MARKER in r for r in self.requests))


def watch(page) -> Visit:
    """Record the dialogs, requests and console errors of `page` from now on."""
    visit = Visit()

    def on_dialog(dialog):
        visit.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("console", lambda msg: msg.type == "error" and visit.console_errors.append(msg.text))
    return visit


def inspect(frame, visit: Visit) -> Visit:
    """Run the trap in `frame` (a page or an iframe) after its scripts have had their chance."""
    frame.wait_for_timeout(1500)  # onerror, onload and MathJax run after the load event
    visit.found += frame.evaluate(TRAP)
    return visit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """`jupyter lab` in a course folder, on a free loopback port, with a known token and every
    folder of its own (home, config, data, runtime) in `scratch`."""

    def __init__(self, root: Path, scratch: Path):
        self.root, self.scratch = root, scratch
        self.port, self.token = free_port(), "nnla-browser-test"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> JupyterServer:
        home = self.scratch / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HOME": str(home),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=False",
            "--LabApp.news_url=",
            "--LabServerApp.extra_labextensions_path=[]",
        ]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        log = open(self.scratch / "jupyter.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._log = log
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"jupyter did not start: {(self.scratch / 'jupyter.log').read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self._log.close()

    def address(self, path: str) -> str:
        return f"{self.url}{path}"

    def new_page(self, browser):
        """A page logged in to this server: its token goes with every request the page makes,
        the pages' own API calls included."""
        context = browser.new_context(extra_http_headers={"Authorization": f"token {self.token}"})
        return context.new_page()
