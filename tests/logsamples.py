# ruff: noqa: E501  (log lines are as long as the SDKs write them)
"""Log lines as the SDKs and loggers format them (read from each SDK's source, see the
`qbtrace/sources/logs/sdk_*` docstrings); the real-client runs' own logs are the goldens in
`tests/data/golden/logs/`. Secrets here are planted to prove they never reach an output."""

from __future__ import annotations

import base64

RT_SECRET = "RT1-222-H0-1797000000zq8planted0refresh0token0value"
AT_SECRET = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..planted-access-token-value"
DOTNET_RT = "RT1-333-H0-1797000000dotnet0planted0refresh0value"
CLIENT_ID = "ABplantedClientId0000000000000000000000000000"
CLIENT_SECRET = "plantedClientSecret0000000000000000000000"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
SECRETS = (RT_SECRET, AT_SECRET, DOTNET_RT, CLIENT_SECRET, BASIC)
TID_1 = "1-6929c1fc-0a1b2c3d4e5f60718293a4b5"  # 0x6929c1fc: 2025-11-28T15:38:36Z
TID_2 = "1-6929c1fd-0a1b2c3d4e5f60718293a4b6"

INTUITLIB_TRACEBACK = f"""2025-11-28 15:38:36,812 ERROR tokens: refresh failed for company 9341453050298471
Traceback (most recent call last):
  File "/srv/app/tokens.py", line 41, in refresh_company
    auth_client.refresh(refresh_token=stored)
  File "/srv/venv/lib/python3.11/site-packages/intuitlib/client.py", line 169, in refresh
    send_request('POST', self.token_endpoint, headers, self, body=urlencode(body), session=self)
  File "/srv/venv/lib/python3.11/site-packages/intuitlib/utils.py", line 91, in send_request
    raise AuthClientError(response)
intuitlib.exceptions.AuthClientError: HTTP status 400, error message: b'{{"error_description":"Incorrect or invalid refresh token","error":"invalid_grant"}}', intuit_tid {TID_1} at time Fri, 28 Nov 2025 15:38:36 GMT
"""
NODE_WINSTON = f"""2025-11-28 16:38:35.100 +01:00 info: Refresh usingToken () response is : {{"x_refresh_token_expires_in":8726400,"refresh_token":"{RT_SECRET}","access_token":"{AT_SECRET}","token_type":"bearer","expires_in":3600}}
2025-11-28 16:38:37.480 +01:00 error: Refresh Token () threw an exception : Error: invalid_grant
2025-11-28 16:38:40.000 +01:00 warn: {{"timestamp":"2025-11-28T15:38:40.000Z","level":"warn","message":"Retrying request (attempt 1/3)","environment":"production","clientId":"{CLIENT_ID}","request":{{"url":"https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer","method":"POST","headers":{{"Authorization":"Basic {BASIC}","Content-Type":"application/x-www-form-urlencoded"}}}},"data":{{"error":"Request failed with status code 503","delay":1000,"url":"https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"}}}}
"""
PINO = (
    '{"level":50,"time":1764344317480,"pid":4411,"hostname":"worker-2","msg":"refresh failed",'
    '"realmId":"9341453050298471","err":{"type":"Error","message":"invalid_grant","stack":'
    '"Error: invalid_grant\\n    at OAuthClient.refreshUsingToken (OAuthClient.js:310:11)",'
    '"error":"invalid_grant","error_description":"Incorrect or invalid refresh token",'
    f'"intuit_tid":"{TID_2}","originalMessage":"Request failed with status code 400"}}}}\n'
)
PHP = (
    "[2025-11-28 15:38:41] production.ERROR: Refresh OAuth 2 Access token with Refresh Token "
    'failed. Body: [{"error_description":"Incorrect or invalid refresh token","error":'
    '"invalid_grant"}]. {"exception":"[object] (QuickBooksOnline\\\\API\\\\Exception\\\\'
    'ServiceException(code: 400): Refresh OAuth 2 Access token with Refresh Token failed."}\n'
)
RUBY = (
    "E, [2025-11-28T15:38:42.480906 #4412] ERROR -- : HTTP status 401, error message: "
    '{"error":"invalid_client"}, intuit_tid: 1-6929c202-a1d1103a01a5ef86671f0dbe on Fri, '
    "28 Nov 2025 15:38:42 GMT\n"
)
DOTNET = f"""2025-11-28 15:38:43.001 +00:00 [INF] Request url- https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer
2025-11-28 15:38:43.002 +00:00 [INF] Request Headers:
2025-11-28 15:38:43.002 +00:00 [INF] Authorization Header: Basic {BASIC}
2025-11-28 15:38:43.003 +00:00 [INF] Request Body: grant_type=refresh_token&refresh_token={DOTNET_RT}
2025-11-28 15:38:43.300 +00:00 [INF] Response Intuit_Tid header - 1-6929c203-aa1103a01a5ef86671f0dbee, Response Status Code- BadRequest, Response Body- {{"error":"invalid_grant"}}
"""
NANGO = (
    '{"timestamp":"2025-11-28T15:38:44.000Z","level":"error","message":"Failed refreshing '
    'token","operation":"refresh_token_external_error","dataMessage":{"error":"invalid_grant",'
    '"error_description":"Token invalid"}}\n'
)
AIRBYTE = (
    "2025-11-28 15:38:45 ERROR () DefaultAirbyteStreamFactory(internalLog):108 - "
    "CRITICAL (invalid_grant)\n"
)
UNKNOWN = "oauth: token endpoint answered 400 invalid_grant for job 77\n"
NOISE = (
    "2025-11-28 15:38:30,001 INFO web: GET /api/v1/items 200 12ms\n"
    "2025-11-28 15:38:30,002 DEBUG cache: hit key=items:all\n"
)
