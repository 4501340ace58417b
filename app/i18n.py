"""The bot's own words in English and Simplified Chinese, and a guess at a user's language."""

from __future__ import annotations

import re
from typing import Any

LANGUAGES = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {
    "help": {
        "en": "I answer with the AI model {model}. Just write to me.\n"
        "/new — start a new conversation (also: new, restart, 00)\n"
        "/retry — ask your last question again\n"
        "/usage — your tokens today and in total\n"
        "/whoami — your Synology Chat id and name\n"
        "/help — this text",
        "zh": "我通过 AI 模型 {model} 回答，直接发消息即可。\n"
        "/new — 开始新对话（也可发送：刷新、新话题、00）\n"
        "/retry — 重新回答上一个问题\n"
        "/usage — 你今天和累计使用的 token\n"
        "/whoami — 你的 Synology Chat 用户 ID 和名字\n"
        "/help — 显示本帮助",
    },
    "new": {
        "en": "New conversation started. I have forgotten the previous {count} exchanges.",
        "zh": "已开始新对话，之前的 {count} 轮对话已清除。",
    },
    "new_empty": {"en": "New conversation started.", "zh": "已开始新对话。"},
    "no_incoming_url": {
        "en": "SynoChatGPT: bot_incoming_url is not set, so I cannot answer yet. "
        "The NAS admin can set it on the settings page.",
        "zh": "SynoChatGPT：尚未设置 bot_incoming_url，暂时无法回复。NAS 管理员可以在设置页面中设置。",
    },
    "busy": {
        "en": "I have too many messages to answer right now and could not take this one. "
        "Please send it again in a minute.",
        "zh": "我现在要回答的消息太多，没能接收这一条。请一分钟后再发一次。",
    },
    "resent": {
        "en": "(The bot restarted while sending this answer, so part of it may arrive twice.)",
        "zh": "（发送这条回答时机器人重启了，部分内容可能会重复出现。）",
    },
    "retry_nothing": {
        "en": "There is no earlier question to ask again.",
        "zh": "没有可以重新提问的问题。",
    },
    "whoami": {
        "en": "Your Synology Chat user id is {user_id}, name {username}.",
        "zh": "你的 Synology Chat 用户 ID 是 {user_id}，名字是 {username}。",
    },
    "usage": {
        "en": "Tokens used today: {today} ({today_requests} questions). In total: {total} "
        "({total_requests} questions).",
        "zh": "今天已用 {today} 个 token（{today_requests} 个问题），累计 {total} 个 token"
        "（{total_requests} 个问题）。",
    },
    "unknown_command": {
        "en": "I don't know the command {command}. Send /help for the list.",
        "zh": "没有 {command} 这个命令，发送 /help 查看命令列表。",
    },
    "no_text": {
        "en": "I can only read text messages so far. Please type your question.",
        "zh": "目前我只能读取文字消息，请直接输入你的问题。",
    },
    "empty_answer": {
        "en": "The model returned an empty answer. Try /retry or rephrase the question.",
        "zh": "模型返回了空回答。请发送 /retry 重试，或换个说法。",
    },
    "not_configured": {
        "en": "The bot has no model set up yet. Ask the person who runs it to open the "
        "SynoChatGPT settings page and enter the model server and key.",
        "zh": "机器人还没有设置模型。请联系管理员打开 SynoChatGPT 设置页面，填写模型服务器和 API 密钥。",
    },
    "err_auth": {
        "en": "The model server refused the API key ({status}). The admin should check the key in "
        "the SynoChatGPT settings.",
        "zh": "模型服务器拒绝了 API 密钥（{status}）。请管理员在 SynoChatGPT 设置中检查密钥。",
    },
    "err_quota": {
        "en": "The model account has run out of credit or quota. The admin should check billing "
        "with the model provider.",
        "zh": "模型账户的额度已用完。请管理员到模型服务商处检查账单或额度。",
    },
    "err_not_found": {
        "en": 'The model server does not know the model "{model}" or the address is wrong '
        "(404). The admin should check the model name and server address.",
        "zh": "模型服务器找不到模型“{model}”，或地址有误（404）。请管理员检查模型名称和服务器地址。",
    },
    "err_rate_limit": {
        "en": "The model server is rate limiting us and I gave up after {attempts} tries. "
        "Please wait a minute, then send /retry.",
        "zh": "模型服务器限流，尝试 {attempts} 次后仍失败。请稍等一分钟后发送 /retry。",
    },
    "err_timeout": {
        "en": "The model did not answer within {timeout:g} seconds ({attempts} tries). It may be "
        "busy or overloaded. Send /retry to try again.",
        "zh": "模型在 {timeout:g} 秒内没有回答（已尝试 {attempts} 次），可能正忙或负载过高。"
        "发送 /retry 重试。",
    },
    "err_unreachable": {
        "en": "I cannot reach the model server ({attempts} tries). It may be off or the address "
        "may be wrong. Send /retry once it is back.",
        "zh": "无法连接模型服务器（已尝试 {attempts} 次），它可能已关闭或地址有误。恢复后发送 /retry。",
    },
    "err_server": {
        "en": "The model server had an error ({status}) and I gave up after {attempts} tries. "
        "Send /retry to try again.",
        "zh": "模型服务器出错（{status}），尝试 {attempts} 次后仍失败。发送 /retry 重试。",
    },
    "err_context": {
        "en": "Your message is too long for this model, even without earlier history. Please shorten it.",
        "zh": "你的消息对这个模型来说太长了（即使不带历史记录）。请缩短后再发。",
    },
    "err_bad_request": {
        "en": "The model server rejected the request: {detail}",
        "zh": "模型服务器拒绝了请求：{detail}",
    },
    "err_bad_response": {
        "en": "The model server sent an answer I could not read. The admin should check that the "
        "address points to an OpenAI-compatible API (it usually ends in /v1).",
        "zh": "无法解析模型服务器的回答。请管理员确认地址指向兼容 OpenAI 的 API（通常以 /v1 结尾）。",
    },
    "err_internal": {
        "en": "Something went wrong on my side while answering. Send /retry to try again.",
        "zh": "回答时出现内部错误。发送 /retry 重试。",
    },
}

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect(text: str) -> str | None:
    """A language guess from one message, or None when it gives no clear signal (a number, an
    emoji, a command)."""
    if _HAN.search(text):
        return "zh"
    if len(_LATIN.findall(text)) >= 3 and not text.lstrip().startswith("/"):
        return "en"
    return None


def t(lang: str, key: str, **values: Any) -> str:
    table = MESSAGES[key]
    return table.get(lang, table["en"]).format(**values)
