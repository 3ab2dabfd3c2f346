"""Keep a Claude API workspace's Skills in step with the catalog (``skillport sync-api``).

read the catalog (``catalog``) -> read the workspace (``workspace``) -> plan (``plan``, pure) -> apply
(``workspace``) -> summary (``run``). No local state: which API skill belongs to which catalog skill, and
at which version, is read back from the origin marker every upload carries in its description.
"""
