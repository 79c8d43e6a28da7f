"""`convnext report --html` in a real browser: Debian's Chromium, headless,
driven by chromedriver (`.ci/run` installs both). Every chart drew, every
series has its legend entry, and no two texts of a chart meet or leave it.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from test_convnext_mcu import CLI, MODEL

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# Each chart's texts that are not rotated (title, legend, ticks, axis
# name), the rotated ones' boxes, the chart's box, its series and its
# legend entries, read off the rendered page.
MEASURE = """
return Array.from(document.querySelectorAll('figure svg')).map(svg => {
  const box = r => ({x: r.left, y: r.top, w: r.width, h: r.height});
  const texts = Array.from(svg.querySelectorAll('text'));
  return {
    id: svg.parentElement.id,
    svg: box(svg.getBoundingClientRect()),
    flat: texts.filter(t => !t.hasAttribute('transform'))
               .map(t => Object.assign(box(t.getBoundingClientRect()), {text: t.textContent})),
    rotated: texts.filter(t => t.hasAttribute('transform'))
                  .map(t => Object.assign(box(t.getBoundingClientRect()), {text: t.textContent})),
    bars: svg.querySelectorAll('rect[data-series]').length,
    series: Array.from(new Set(Array.from(svg.querySelectorAll('[data-series]'))
                        .map(e => e.getAttribute('data-series')))),
    legend: Array.from(svg.querySelectorAll('text[data-role=legend]')).map(t => t.textContent),
  };
});
"""


def meet(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def inside(a: dict, box: dict) -> bool:
    return a["x"] >= box["x"] - 0.5 and a["y"] >= box["y"] - 0.5 and \
        a["x"] + a["w"] <= box["x"] + box["w"] + 0.5 and a["y"] + a["h"] <= box["y"] + box["h"] + 0.5


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), \
        "Chromium and chromedriver are missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1000"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_the_html_report_renders_readable_charts(tmp_path: Path, browser) -> None:
    page = tmp_path / "report.html"
    subprocess.run([str(CLI), "report", "--model", str(MODEL), "--board", "rpi-pico", "--html", str(page)],
                   check=True, capture_output=True)
    browser.get(page.as_uri())
    assert browser.title.startswith("int8 report")
    tables = browser.find_elements("css selector", "table#ops tr")
    assert len(tables) == 1 + 9, "a row per op"
    assert "fits" in browser.find_element("css selector", "p.fit").text
    charts = browser.execute_script(MEASURE)
    assert [c["id"] for c in charts] == ["arena", "sqnr"]
    for c in charts:
        assert c["svg"]["w"] > 200 and c["svg"]["h"] > 200, c["id"]
        assert c["bars"] >= 9, f"{c['id']}: the bars did not draw"
        assert sorted(c["series"]) == sorted(c["legend"]), f"{c['id']}: {c['series']} against the legend {c['legend']}"
        for t in c["flat"] + c["rotated"]:
            assert inside(t, c["svg"]), f"{c['id']}: {t['text']!r} leaves the chart"
        flat = c["flat"]
        for i, a in enumerate(flat):
            for b in flat[i + 1:]:
                assert not meet(a, b), f"{c['id']}: {a['text']!r} meets {b['text']!r}"
