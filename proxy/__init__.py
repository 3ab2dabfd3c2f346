"""Skillport proxy: members-only catalog, signed links, OAuth 2.1 and the MCP connector."""
