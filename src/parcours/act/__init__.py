"""Orchestration: scenarios that act on customers and write what they did back as events.

``scenario`` (the YAML files, validated), ``settings`` (act.yaml: channels and guards),
``engine`` (entries, steps, guards, durable state; ``run_due``, ``on_ingest``), ``outbox`` and
``channels`` (delivery over SMTP and signed webhooks), ``loyalty``, ``referral``, ``lift``
(effect against the holdout), ``simulate`` (replay without sending), ``scheduler``.
See docs/orchestration.md.
"""
