"""QQ through OneBot v11 (NapCat, LLOneBot, Lagrange): platform.py is its face to the core;
wire.py its protocol and API client; events.py what arrives at /onebot; delivery.py what goes
back; settings.py and words.py its part of the settings page; check.py its test message.
Nothing here runs on import, and nothing of the core imports it."""
