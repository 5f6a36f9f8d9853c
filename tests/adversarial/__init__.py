"""Issue 22: each finding, tried as an attacker or an unlucky morning would, as a test."""
