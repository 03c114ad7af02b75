"""Centralino registrar: the SIP edge every phone talks to (ADR 0001, ADR 0006).

Sans-IO cores (pure, time passed in):

- ``acl``: per-account source address/mask (ACC-11).
- ``auth``: digest (SIP core ``DigestChallenger``), ACL, disabled account/extension and
  transport rules (ACC-02/06/20/21, REG-02); unknown users answered like wrong passwords.
- ``binding``: what a REGISTER does to the single location (REG-03..06), expiry limits.
- ``defence``: per-source rate limit, failure/probe/scanner counting and blocking.
- ``proxy``: Via/Record-Route/Route rewriting, derived branches, response destinations.
- ``retransmissions``: UDP retransmission absorption by transaction key.
- ``flowtoken``, ``extract``: flow ids in URIs; SIP messages to plain facts.

Adapters: ``accounts`` (config-api over gRPC, cached, invalidated by config events),
``locations`` (JetStream KV with compare-and-set, bucket mirror, expiry reaper),
``events`` (LocationEvent, SourceBlockedEvent, metrics), ``edge`` (the asyncio message
handling between phones and the router), ``service`` (wiring), ``settings`` (environment).
"""
