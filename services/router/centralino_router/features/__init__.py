"""Router call features: outbound routing classes, the electronic lock, pickup, ENUM.

Everything here is decision logic with no I/O except :mod:`.lock_store` (JetStream KV)
and :class:`.enum_lookup.EnumResolver` (DNS). The B2BUA calls one function per decision point:

1. **What was dialled** -- on every INVITE from a phone::

       kind = dialplan.classify(dialled, plan, is_extension)   # DialPlanError -> 484

   ``ServiceCall``/``InternalCall``/``ExternalCall`` select steps 2, 3 or 4-5.
2. **Lock/unlock service codes** (LOCK-01..09, EXT-12)::

       valid = lock.pin_checkable(state, now) and await config.VerifyServicePin(...)
       outcome = await store.change(
           tenant, ext, lambda s: lock.unlock(cfg, s, now, pin, pin_valid=valid)
       )
       outcome = await store.change(tenant, ext, lambda s: lock.lock(cfg, s, now))

   ``outcome.refused`` -> 403 (``Result.THROTTLED`` carries ``retry_after`` seconds);
   otherwise confirm and hang up. ``now`` is wall time (``time.time()``) because the
   state is shared by replicas. The unlock duration is in seconds (ADR 0008).
3. **Pickup** (PICK-01..03)::

       call = pickup.select_group_pickup(picker, picker_authorised_groups, ringing)
       call = pickup.select_directed_pickup(picker_authorised_groups, target, ringing)

   ``None`` -> 403; otherwise bridge the picker into ``call`` and cancel its other forks.
4. **Class: allowed, and via which trunk** (COS-01..03, LOCK-10), for ``ExternalCall``::

       choice = await store.change(tenant, ext, lambda s: lock.call_placed(cfg, s, now))
       cls = standard_class if choice is ClassChoice.STANDARD else restricted_class
       decision = classes.route(kind.number, cls)

   ``Denied`` -> 403 and an event carrying ``decision.rule_index`` and ``decision.reason``
   (-1: no rule matched). ``call_placed`` must run exactly once per outgoing external
   call: it spends a per-call unlock (LOCK-06).
5. **ENUM before the trunk** (FEAT-07), when step 4 allowed and ``kind.e164`` is set::

       uri = await enum_resolver.lookup(kind.e164)

   A URI is called directly; ``None`` -> send via ``decision.trunk``. The class check
   runs first so ENUM can never bypass a deny.

6. **Trunks**: ``trunks.Trunk.from_proto(pb)`` per configured trunk; for each with
   ``register`` run ``trunk_client.TrunkClient(trunks.account_for(trunk, contact, sent_by),
   provider_addr, send).run()`` in a task, handing it the provider's responses
   (``provider_addr`` resolved per RFC 3263 from the outbound proxy or registrar with
   ``centralino.sip.resolve``); ``trunk_gateway.py`` does this on the router's socket.
7. **Incoming from a trunk** (origin external): ``trunks.extension_for_did(trunk, called)``
   -> the extension (``None`` -> 404); then the extension's external-origin overflow rules.

The B2BUA (``call.py``) makes these calls; transfers (``transfer.py`` parses REFER and
Replaces) need its dialogs and live there too (ADR 0009).
"""
