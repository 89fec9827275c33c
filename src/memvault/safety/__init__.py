"""Destruction safety: detector, quarantine, wipe response, command guard."""
