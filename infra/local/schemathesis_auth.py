"""Schemathesis hooks for `make test`: every generated request carries an admin bearer token.

Tokens live TOKEN_TTL_SECONDS (30 s by default), so a new one is fetched from POST /auth/token
every 10 s. Loaded through SCHEMATHESIS_HOOKS by infra/local/run-tests.sh.
"""

import os

import requests
import schemathesis


@schemathesis.auth(refresh_interval=10)
class AdminToken:
    def get(self, case, ctx):
        response = requests.post(
            f"{os.environ['PAYRAIL_API_URL']}/auth/token",
            json={
                "username": "admin",
                "password": os.environ.get("PAYRAIL_DEMO_PASSWORD", "password"),
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
