"""HTTP hardening: headers, CSP without external origins, size limits, clean 4xx errors."""

from __future__ import annotations

from .helpers import Env


def test_pages_carry_a_csp_that_allows_no_external_origin(env: Env) -> None:
    for path in ("/", "/verify"):
        r = env.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http" not in csp and "*" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_pages_reference_only_assets_of_the_app_itself(env: Env) -> None:
    for path in ("/", "/verify"):
        html = env.client.get(path).text
        assert (
            "http://" not in html
            and "https://" not in html
            and "//" not in html.replace("<!--", "").replace("-->", "")
        )
        for asset in [part.split('"')[0] for part in html.split('src="')[1:]]:
            assert asset.startswith("/static/")
            assert env.client.get(asset).status_code == 200


def test_api_responses_are_not_cached(env: Env) -> None:
    assert env.client.get("/api/consent").headers["cache-control"] == "no-store"


def test_oversized_request_body_is_a_413(env: Env) -> None:
    r = env.client.post(
        "/api/verify",
        content=b'{"token": "' + b"a" * 20_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and "bytes" in r.json()["detail"]


def test_malformed_json_is_a_422_with_a_message(env: Env) -> None:
    r = env.client.post(
        "/api/verify", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("invalid request")


def test_unknown_fields_are_refused(env: Env) -> None:
    r = env.client.post("/api/verify", json={"token": "x", "admin": True})
    assert r.status_code == 422


def test_openapi_is_served_but_no_cdn_backed_docs_page(env: Env) -> None:
    assert env.client.get("/openapi.json").status_code == 200
    assert env.client.get("/docs").status_code == 404


def test_store_failure_during_a_lookup_is_a_503_pointing_to_sms(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from .helpers import ALICE, publish_fixture

    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    services = env.client.app.state.services  # type: ignore[attr-defined]

    def broken(subscriber: str) -> list:  # type: ignore[type-arg]
        raise ConnectionError("store went away")

    monkeypatch.setattr(services.cards, "_fetch", broken)
    r = env.client.get("/api/card")
    assert r.status_code == 503 and "CXMYD" in r.json()["detail"]
    assert r.headers["retry-after"] == "5"
