"""Pure business rules of the work-order tracker: standard library only.

Nothing here knows about Flask, SQL or pandas; services feed it plain values and
store what it returns.
"""
