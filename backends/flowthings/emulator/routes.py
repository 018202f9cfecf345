"""URL table and token check of the flowthings emulator.

Paths are `/v<version>/<account>/<service>[/...]` for the versions `0.1` and `4.0`
(protocols/flowthings.md section 1); any other version is a 404 in the envelope. The
token travels in `X-Auth-Token` (any case; `X-Auth-Account` is accepted and, when sent,
must name the token's account); a missing or unknown token is a 401 and a token used on
another account's path a 403, both as envelopes. `MGET` and `MPUT` are real request
methods of this service; the kit routes any method token.
"""

from __future__ import annotations

import hmac

from hubfs.emulation import Router

from .handlers import FlowthingsAPI, error

BASE = r"/v(?P<version>0\.1|4\.0)/(?P<account>[^/]+)"
FLOW_ID = r"(?P<id>f[0-9a-f]{24})"
DROP_FLOW = r"(?P<flow>f[0-9a-f]{24})"
DROP_ID = r"(?P<drop>d[0-9a-f]{24})"


def build_router(api: FlowthingsAPI) -> Router:
    r = Router()
    r.add("GET", rf"{BASE}/flow/?", api.find_flows)
    r.add("POST", rf"{BASE}/flow/?", api.create_flow)
    r.add("MGET", rf"{BASE}/flow/?", api.read_flows)
    r.add("GET", rf"{BASE}/flow/{FLOW_ID}", api.read_flow)
    r.add("PUT", rf"{BASE}/flow/{FLOW_ID}", api.update_flow)
    r.add("DELETE", rf"{BASE}/flow/{FLOW_ID}", api.delete_flow)
    r.add("GET", rf"{BASE}/drop/?", api.find_drops_by_path)
    r.add("POST", rf"{BASE}/drop/?", api.create_drop_by_path)
    r.add("MGET", rf"{BASE}/drop/?", api.multi_find_drops)
    r.add("GET", rf"{BASE}/drop/{DROP_FLOW}/?", api.find_drops)
    r.add("POST", rf"{BASE}/drop/{DROP_FLOW}/?", api.create_drop)
    r.add("MGET", rf"{BASE}/drop/{DROP_FLOW}/?", api.read_drops)
    r.add("DELETE", rf"{BASE}/drop/{DROP_FLOW}/?", api.delete_all_drops)
    r.add("GET", rf"{BASE}/drop/{DROP_FLOW}/{DROP_ID}", api.read_drop)
    r.add("DELETE", rf"{BASE}/drop/{DROP_FLOW}/{DROP_ID}", api.delete_drop)
    return r


def make_auth(state):
    """The auth hook: the token must be an account's, and the path that account's."""

    def check(request):
        token = request.header("X-Auth-Token") or ""
        account = state.account_of_token(token) if token else None
        if account is None or not hmac.compare_digest(token.encode(), account.token.encode()):
            return error(401, "Invalid or missing X-Auth-Token.")
        named = request.header("X-Auth-Account")
        if request.match.get("account") != account.name or (named and named != account.name):
            return error(403, f"The token does not grant access to the account "
                              f"{request.match.get('account')!r}.")
        request.account = account
        return None

    return check
