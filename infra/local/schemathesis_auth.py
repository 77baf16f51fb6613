"""Schemathesis hooks for `make test`: every generated request carries a bearer token, the
merchant `alice`'s for the merchant-only routes (creating, processing and refunding payments, so
that valid generated payments are really stored), an admin's for the rest.

Tokens live TOKEN_TTL_SECONDS (30 s by default), so a new one is fetched from POST /auth/token
every 10 s. Loaded through SCHEMATHESIS_HOOKS by infra/local/run-tests.sh.
"""

import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=10)
class DemoTokens:
    def get(self, case, ctx):
        return {user: token(user) for user in ("admin", "alice")}

    def set(self, case, data, ctx):
        user = "alice" if merchant_only(case.method, case.path) else "admin"
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data[user]}"


def merchant_only(method, path):
    return method.upper() == "POST" and path.startswith("/payments")


def token(username):
    response = requests.post(
        f"{os.environ['PAYRAIL_API_URL']}/auth/token",
        json={
            "username": username,
            "password": os.environ.get("PAYRAIL_DEMO_PASSWORD", "password"),
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]
