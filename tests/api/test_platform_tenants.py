"""Issue 29.7 over HTTP: a reseller cannot claim a configured tenant no customer record
owns (the host's own customer, example.org); the refusal is the same for another
reseller's customer and for a name that is no tenant at all, so it tells nothing of which
tenants exist. The site admin assigns platform tenants."""

from __future__ import annotations

from typing import Any

from apihelpers import Service


def _post(service: Service, identity: str, body: dict[str, Any], dry: bool = False) -> Any:
    with service.client(identity) as http:
        return http.post(f"/v1/customers{'?dry_run=true' if dry else ''}", json=body)


def test_a_reseller_cannot_claim_a_platform_tenant(service: Service) -> None:
    answers = {
        (name, dry): _post(service, "reseller:acme", {"name": name}, dry)
        for name in ("example.org", "example.net", "nosuch.test")
        for dry in (False, True)
    }
    for (name, dry), answer in answers.items():
        assert answer.status_code == 403, (name, dry, answer.text)
        problem = answer.json()
        assert (problem["code"], problem["reason"]) == ("policy_denied", "not_permitted")
        assert "only the site admin" in problem["detail"]
    # One answer whatever exists: only the name differs.
    details = {a.json()["detail"].replace(n, "NAME") for (n, _), a in answers.items()}
    assert len(details) == 1, details
    with service.client("site-admin") as http:
        host = http.get("/v1/customers/example.org").json()
    assert host["reseller"] is None  # still the host's own
