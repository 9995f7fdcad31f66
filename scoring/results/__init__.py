"""The results engine (set-based SQL), its pure-Python reference model and the ranking reader."""
