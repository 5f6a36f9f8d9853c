"""Use cases, one package per capability; web, cli and jobs call them, they use domain and models.

- ``accounts``    users, sessions, who may see what (scope), the actor of a change
- ``orders``      the one door for an order's state, its deadlines, alerts, calendar, rules, lists
- ``imports``     the only place an export file is read: reader, profiles, survey, plan, write
- ``spot_checks`` 诉件质量抽查: plans and draws, reviews, results
- ``stats``       the numbers: rates, nightly snapshots, the dashboard
- ``verifications`` 热线通报核查: notices imported, the 核查 of each named order, answers, the reply
- ``operations``  running the system: job runs, the scheduler lease, health, the demo data

Dependencies run one way (checked by tests/test_architecture.py):
accounts ← orders ← imports ← operations; stats and spot_checks use accounts and orders;
verifications uses imports, orders and accounts.
A package is used from outside only through what its ``__init__`` exposes.
"""
