"""The screens' assets come from the service itself, in the versions the code names."""

from __future__ import annotations

import re
from importlib.metadata import version

from fastapi.testclient import TestClient

from app.web.templating import NHSUK_FRONTEND_VERSION, STATIC_DIR

# nhsuk-frontend-jinja's compatibility table: the Jinja port release for each NHS.UK frontend.
JINJA_PORT_FOR = {"10.6.1": "0.10.2"}


def test_the_vendored_frontend_matches_the_jinja_port() -> None:
    assert version("nhsuk-frontend-jinja") == JINJA_PORT_FOR[NHSUK_FRONTEND_VERSION]
    css = STATIC_DIR / "nhsuk" / f"nhsuk-frontend-{NHSUK_FRONTEND_VERSION}.min.css"
    js = STATIC_DIR / "nhsuk" / f"nhsuk-frontend-{NHSUK_FRONTEND_VERSION}.min.js"
    assert css.stat().st_size > 100_000
    assert f'const version="{NHSUK_FRONTEND_VERSION}"' in js.read_text()
    assert NHSUK_FRONTEND_VERSION in (STATIC_DIR / "homefirst.js").read_text()


def test_stylesheets_name_no_other_origin_and_their_images_are_served(client: TestClient) -> None:
    for sheet in STATIC_DIR.rglob("*.css"):
        text = sheet.read_text()
        assert not re.search(r"https?://|@font-face|@import", text), sheet.name
        for url in re.findall(r"url\(([^)]+)\)", text):
            if url.startswith("data:"):
                continue
            assert url.startswith("/static/"), url
            assert client.get(url).status_code == 200, url


def test_the_sign_in_page_loads_only_same_origin_assets(client: TestClient) -> None:
    page = TestClient(client.app).get("/")
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="([^"#]+)"', page.text)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
    for asset in (a for a in assets if a.startswith("/static/")):
        r = client.get(asset)
        assert r.status_code == 200, asset
        assert "no-store" not in r.headers.get("cache-control", ""), asset
