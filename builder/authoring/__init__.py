"""Authoring: plans for new / edit / bump / delete, one apply step, and the Git remote."""
