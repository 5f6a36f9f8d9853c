"""Use cases: the real API. Each takes ``session`` as a keyword, flushes, and never commits."""
