"""The member client: sign-in, API calls and installs (a client of the proxy)."""
