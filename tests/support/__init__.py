"""The one test harness. Test modules import helpers from here, never from each other.

- paths: the repository, the example marketplace, the npm tools
- sites: sites the real builder makes from tests/fixtures/marketplaces (once per session)
- catalog: the catalog render step over the built ``catalog`` fixture
- servers: the proxy under uvicorn, oidc-provider-mock, a forgeable IdP, sign-in over HTTP
- connector: the proxy with OAuth (register, PKCE, consent, tokens) and the MCP SDK client
- publishing: the proxy over a bare Git marketplace it publishes to
- authoring, marketplaces: marketplaces written by a test, Git, the authoring CLI
- member: the member CLI as a subprocess; tls: a self-signed certificate
- browser: Chromium flags, screenshots, a page watch; anthropic_api: a stand-in Skills API
"""
