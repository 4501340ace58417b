"""SynoChatGPT: an AI chat bot for Synology Chat that answers through any OpenAI-compatible model."""

__version__ = "0.1.0"
