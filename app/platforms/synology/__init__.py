"""Synology Chat, the first platform: platform.py is its face to the core (the worked example
of ARCHITECTURE.md); wire.py its HTTP protocol; integrations.py the bot, channels and
slash commands it answers; webhook.py what arrives; delivery.py and downloads.py what goes
back. Nothing here runs on import, and nothing of the core imports it."""
