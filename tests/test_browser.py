"""The HTML reports in a real headless browser: every image loads, no papermill error banner.

Skips outside CI when Chromium is missing; in CI (CI set) a missing browser fails.
A screenshot of each report is kept under tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import golden_fixture
from helpers.cli import main
from helpers.reports import REPORT_NOTEBOOKS, run_reports

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]
# Appended to a copy of each report: once everything loaded, count broken images
# and error banners into an element the test reads back from the DOM.
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0).length;
  const text = document.body.innerText;
  const result = {images: images.length, broken: broken,
    papermill_error: text.includes("An Exception was encountered") || !!document.getElementById("papermill-error-cell"),
    traceback: text.includes("Traceback (most recent call last)")};
  const out = document.createElement("pre"); out.id = "probe-result"; out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    found = chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """Every report, run as `make reports` runs them: the pipeline's backtest stage first.

    The backtest page then shows the stage's table (the golden notebook covers the refit in the page).
    """
    paths = golden_fixture()
    reports_dir = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("METRICS_DIR", str(tmp_path_factory.mktemp("metrics")))  # read by the CLI and the kernels
        stage = ["backtest", "--as-of", "auto", "--warehouse", str(paths["warehouse"]),
                 "--models-dir", str(paths["models_dir"])]
        assert main(stage) == 0
        folder = run_reports(warehouse_path=paths["warehouse"], models_dir=paths["models_dir"],
                             reports_dir=reports_dir)
    assert "The table is the one the pipeline's backtest stage wrote" in (folder / "model_backtest.ipynb").read_text()
    return folder


def run_chromium(browser: str, *arguments: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("report", list(REPORT_NOTEBOOKS))
def test_report_renders_with_every_image_and_no_error(browser, published, report, tmp_path):
    stem = REPORT_NOTEBOOKS[report].removesuffix(".ipynb").lstrip("0123456789_")
    page = published / f"{stem}.html"
    probed = tmp_path / page.name
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(browser, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S)
    assert match, "the probe did not run: the page did not finish loading"
    result = json.loads(match.group(1).replace("&quot;", '"'))
    assert result["images"] >= 1, f"{page.name} shows no chart"
    assert result["broken"] == 0, f"{result['broken']} image(s) failed to load in {page.name}"
    assert not result["papermill_error"] and not result["traceback"], f"{page.name} shows an error"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{stem}.png"
    run_chromium(browser, "--window-size=1280,4000", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000


def test_index_lists_the_run(browser, published):
    index = published.parent / "index.html"
    dom = run_chromium(browser, "--dump-dom", index.as_uri())
    assert published.name in dom
    for report in REPORT_NOTEBOOKS:
        assert f">{report}</a>" in dom


def test_the_probe_catches_a_broken_image_and_an_error_banner(browser, tmp_path):
    # The control: the checks above can fail.
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body><img src='missing.png'><p>An Exception was encountered at cell 3</p>" + PROBE + "</body></html>"
    )
    dom = run_chromium(browser, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    result = json.loads(re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert result == {"images": 1, "broken": 1, "papermill_error": True, "traceback": False}
