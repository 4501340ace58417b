"""DingTalk (an enterprise internal app robot): platform.py is its face to the core; wire.py its
protocol and HTTP client (signatures, messages, session webhooks, the OpenAPI); stream.py the
Stream mode connection the bot opens itself; events.py what arrives, by Stream or at /dingtalk;
delivery.py what goes back; settings.py and words.py its part of the settings page; check.py
its live check. Nothing here runs on import, and nothing of the core imports it."""
