"""A small W3C WebDriver client for chromedriver, standard library only.

tests/e2e/test_browser.py drives Debian's headless Chromium with it.  It
speaks the W3C WebDriver protocol (JSON over HTTP, a published standard)
to chromedriver, plus two of chromedriver's own endpoints: the browser
console log (goog:loggingPrefs, /se/log) and a DevTools command
(/goog/cdp/execute) for the viewport, the screenshots of whole pages and
turning JavaScript off.  A client of our own, rather than Selenium or
Playwright, keeps the test to two Debian packages (chromium,
chromium-driver) whose versions always match each other, with no
library release to keep in step with the browser and nothing fetched
from the network.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

# W3C WebDriver's key for an element reference.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

# Debian's paths; FL_CHROMEDRIVER and FL_CHROMIUM may name others.  The
# browser is the binary itself, not Debian's /usr/bin/chromium launcher
# script, which adds flags of its own from /etc/chromium.d.
CHROMEDRIVER = os.environ.get("FL_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("FL_CHROMIUM", "/usr/lib/chromium/chromium")

# Headless and closed to the network: as root the sandbox cannot start,
# there is no GPU, and nothing may phone home (updates, sync, QUIC
# probes, first-run pages).  /dev/shm is small in many containers.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--disable-extensions",
    "--no-default-browser-check", "--disable-default-apps",
    "--metrics-recording-only", "--password-store=basic",
    "--use-mock-keychain", "--hide-scrollbars",
    "--window-size=1280,800",
)


def missing():
    """None when Chromium and chromedriver are installed, else why not."""
    for path, pkg in ((CHROMIUM, "chromium"),
                      (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return ("%s not found: install Debian's %s package "
                    "(apt-get install chromium chromium-driver)"
                    % (path, pkg))
    return None


class WebDriverError(Exception):
    def __init__(self, status, value):
        self.status, self.value = status, value
        super().__init__("%d %s: %s" % (status, value.get("error"),
                                        value.get("message", "")[:500]))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromedriver:
    """One chromedriver process on a free local port.  It and the
    browsers it starts get a home directory of their own under logdir,
    so that Chromium's crash reports and settings stay out of the real
    one."""

    def __init__(self, logdir):
        self.port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = Path(logdir) / "chromedriver.log"
        home = Path(logdir) / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HOME=str(home),
                   XDG_CONFIG_HOME=str(home / ".config"),
                   XDG_CACHE_HOME=str(home / ".cache"))
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % self.port,
             "--log-path=%s" % self.log, "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True)
        end = time.time() + 10
        while True:
            try:
                if self.call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            if time.time() > end or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("chromedriver did not start; see %s"
                                   % self.log)
            time.sleep(0.05)

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            with e:
                raise WebDriverError(e.code, json.loads(e.read())["value"])

    def session(self, profile, spki=None, javascript=True, logs=True):
        """A new browser with a fresh profile in directory profile.  spki:
        base64 SHA-256 hashes of the only certificates' public keys
        trusted besides the system's.  javascript=False turns scripts off
        for every site, as the person's own setting would."""
        profile = Path(profile)
        if profile.exists():
            shutil.rmtree(profile)
        profile.mkdir(parents=True)
        args = list(CHROMIUM_ARGS) + ["--user-data-dir=%s" % profile]
        if spki:
            args.append("--ignore-certificate-errors-spki-list="
                        + ",".join(spki))
        opts = {"binary": CHROMIUM, "args": args}
        if not javascript:
            opts["prefs"] = {
                "profile.managed_default_content_settings.javascript": 2}
        caps = {"browserName": "chrome", "goog:chromeOptions": opts,
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": 15000, "script": 5000,
                             "implicit": 0}}
        if logs:
            caps["goog:loggingPrefs"] = {"browser": "ALL"}
        v = self.call("POST", "/session",
                      {"capabilities": {"alwaysMatch": caps}})
        return Session(self, v["sessionId"])

    def stop(self):
        """Stops chromedriver and whatever is left of the browsers it
        started.  chromedriver leaves a browser running when it exits,
        so it runs in a process group of its own (its pid), which the
        browsers inherit; the group goes last."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Session:
    """One browser (a W3C WebDriver session)."""

    def __init__(self, driver, sid):
        self.driver, self.sid = driver, sid

    def call(self, method, path="", body=None):
        return self.driver.call(method, "/session/%s%s" % (self.sid, path),
                                body)

    def quit(self):
        try:
            self.call("DELETE")
        except (OSError, WebDriverError):
            pass

    # -- navigation and the document ------------------------------------
    def get(self, url):
        self.call("POST", "/url", {"url": url})

    @property
    def url(self):
        return self.call("GET", "/url")

    @property
    def title(self):
        return self.call("GET", "/title")

    def source(self):
        return self.call("GET", "/source")

    def execute(self, script, *args):
        return self.call("POST", "/execute/sync",
                         {"script": script, "args": list(args)})

    def cdp(self, cmd, **params):
        """Runs one Chrome DevTools Protocol command; returns its result."""
        return self.call("POST", "/goog/cdp/execute",
                         {"cmd": cmd, "params": params})

    # -- elements -------------------------------------------------------
    def find_all(self, css):
        v = self.call(
            "POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in v]

    def find(self, css):
        found = self.find_all(css)
        assert len(found) == 1, "%d elements match %r" % (len(found), css)
        return found[0]

    def text(self, el):
        return self.call("GET", "/element/%s/text" % el)

    def click(self, el):
        self.call("POST", "/element/%s/click" % el, {})

    def wait_url(self, prefix, timeout=15, exact=False):
        """Waits until the address bar starts with prefix (is prefix, with
        exact: for a page whose address the one before also starts with,
        as a form posted back to its own path without the query);
        returns it."""
        end = time.time() + timeout
        while True:
            u = self.url
            if u == prefix or (not exact and u.startswith(prefix)):
                return u
            if time.time() > end:
                raise AssertionError("still at %s, waiting for %s"
                                     % (u, prefix))
            time.sleep(0.05)

    # -- logs, viewport, screenshots ------------------------------------
    def console(self):
        """The browser console entries since the last call."""
        return self.call("POST", "/se/log", {"type": "browser"})

    def viewport(self, width, height, mobile=False, scale=1):
        """Lays the page out at width x height CSS pixels; mobile makes
        the browser honour <meta name=viewport> as a phone does."""
        self.cdp("Emulation.setDeviceMetricsOverride", width=width,
                 height=height, deviceScaleFactor=scale, mobile=mobile)
        self.cdp("Emulation.setTouchEmulationEnabled", enabled=mobile,
                 maxTouchPoints=5 if mobile else 1)

    def screenshot(self, path):
        """Saves the whole page (not only the viewport) as PNG at path."""
        m = self.cdp("Page.getLayoutMetrics")
        vp, size = m["cssLayoutViewport"], m["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": vp["clientWidth"],
                "height": max(vp["clientHeight"], size["height"]),
                "scale": 1}
        png = self.cdp("Page.captureScreenshot", format="png",
                       captureBeyondViewport=True, clip=clip)["data"]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(png))
