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
        "/ask <question> — ask a question (for slash commands)\n"
        "/image <description> — draw a picture (also: img: …, 图片: …)\n"
        "/usage — your tokens today and this month, and your limits\n"
        "/export — your conversation as a Markdown file\n"
        "/forget — delete everything I stored of your conversations\n"
        "/model — the model I use\n"
        "/persona — this conversation's instructions\n"
        "/whoami — your id and name, as the admin's lists take them\n"
        "/help — this text",
        "zh": "我通过 AI 模型 {model} 回答，直接发消息即可。\n"
        "/new — 开始新对话（也可发送：刷新、新话题、00）\n"
        "/retry — 重新回答上一个问题\n"
        "/ask <问题> — 提问（用于斜杠命令）\n"
        "/image <描述> — 画一张图（也可以：图片：…、img: …）\n"
        "/usage — 你今天和本月使用的 token，以及你的限额\n"
        "/export — 把对话导出为 Markdown 文件\n"
        "/forget — 删除我保存的你的全部对话\n"
        "/model — 查看当前模型\n"
        "/persona — 查看本对话的指令\n"
        "/whoami — 你的 ID 和名字（管理员名单中的写法）\n"
        "/help — 显示本帮助",
    },
    "help_admin": {
        "en": "Admin commands:\n"
        "/model <name> — switch the model for everyone\n"
        "/persona <text> — set this conversation's instructions (/persona reset: the default)\n"
        "/pause — answer only admins until /resume\n"
        "/resume — answer everyone again",
        "zh": "管理员命令：\n"
        "/model <名称> — 为所有人切换模型\n"
        "/persona <文字> — 设置本对话的指令（/persona reset 恢复默认）\n"
        "/pause — 暂停，只回答管理员，直到 /resume\n"
        "/resume — 恢复回答所有人",
    },
    "admin_only": {
        "en": "Only the bot's admins can use {command}.",
        "zh": "只有机器人管理员可以使用 {command}。",
    },
    "refused_guest": {
        "en": "Sorry, this bot only answers the people its admin has allowed. Ask the NAS admin to "
        "add you; your Synology Chat user id is {user_id}.",
        "zh": "抱歉，这个机器人只回答管理员允许的用户。请联系 NAS 管理员添加你，"
        "你的 Synology Chat 用户 ID 是 {user_id}。",
    },
    "refused_guest_qq": {
        "en": "Sorry, this bot only answers the people its admin has allowed. Ask the NAS admin to "
        "add you as qq:{user_id}.",
        "zh": "抱歉，这个机器人只回答管理员允许的用户。请联系 NAS 管理员把你加入名单，写作 qq:{user_id}。",
    },
    "ask_empty_qq": {
        "en": "Yes? Write your question after the @ or after /gpt.",
        "zh": "在呢，请在 @ 或 /gpt 后面写上你的问题。",
    },
    "no_api_url_qq": {
        "en": "I cannot answer in QQ yet: the NAS admin has to set OneBot API URL on the settings page.",
        "zh": "我暂时无法在 QQ 中回答：NAS 管理员需要先在设置页面填写“OneBot API 地址”。",
    },
    "refused_guest_dingtalk": {
        "en": "Sorry, this bot only answers the people its admin has allowed. Ask the NAS admin to "
        "add you as dingtalk:{user_id}.",
        "zh": "抱歉，这个机器人只回答管理员允许的用户。请联系 NAS 管理员把你加入名单，"
        "写作 dingtalk:{user_id}。",
    },
    "ask_empty_dingtalk": {
        "en": "Yes? Write your question after the @.",
        "zh": "在呢，请在 @ 后面写上你的问题。",
    },
    "file_not_sent_dingtalk": {
        "en": "(DingTalk cannot take the file from this bot: use /export in Synology Chat or the web chat.)",
        "zh": "（钉钉无法接收机器人发送的文件：请在 Synology Chat 或网页聊天中使用 /export。）",
    },
    "text_only": {
        "en": "I can read text and pictures, not this kind of message. Write your question in words.",
        "zh": "我能读文字和图片，读不了这种消息。请用文字写下你的问题。",
    },
    "file_not_sent_qq": {
        "en": "(QQ cannot take the file from this bot: use /export in Synology Chat or the web chat.)",
        "zh": "（QQ 无法接收机器人发送的文件：请在 Synology Chat 或网页聊天中使用 /export。）",
    },
    "refused_guest_web": {
        "en": "Sorry, this bot only answers the people its admin has allowed. Ask the NAS admin to "
        "add your web chat account {name} to the allowed users.",
        "zh": "抱歉，这个机器人只回答管理员允许的用户。请联系 NAS 管理员把你的网页聊天账号 {name} "
        "加入允许的用户。",
    },
    "refused_blocked": {
        "en": "Sorry, this bot is not available to you.",
        "zh": "抱歉，你无法使用这个机器人。",
    },
    "paused_notice": {
        "en": "The bot is paused by its admin and is not answering right now. Please try again later.",
        "zh": "机器人已被管理员暂停，暂时不回答。请稍后再试。",
    },
    "limit_interval": {
        "en": "Please wait {wait} more seconds: one question every {limit} seconds.",
        "zh": "请再等 {wait} 秒：每 {limit} 秒只能提一个问题。",
    },
    "limit_per_minute": {
        "en": "You have asked {limit} questions in the last minute, the most allowed. You can ask "
        "again in {wait} seconds.",
        "zh": "你在一分钟内已提了 {limit} 个问题，达到上限。{wait} 秒后可以再问。",
    },
    "limit_daily": {
        "en": "You have used today's quota of {limit} tokens. It resets at midnight, in {left}.",
        "zh": "你今天的 {limit} token 额度已用完，将在午夜（{left}后）重置。",
    },
    "limit_monthly": {
        "en": "You have used this month's quota of {limit} tokens. It resets on {day}.",
        "zh": "你本月的 {limit} token 额度已用完，将于 {day} 重置。",
    },
    "usage_limits": {
        "en": "Your limits: {daily} tokens a day, {monthly} a month.",
        "zh": "你的限额：每天 {daily} token，每月 {monthly} token。",
    },
    "no_limit": {"en": "no limit", "zh": "不限"},
    "slash_queued": {
        "en": "Asked. The answer comes from the bot in your direct messages.",
        "zh": "已提问，回答会由机器人以私信发给你。",
    },
    "ask_empty": {
        "en": "What would you like to ask? Write the question after the command.",
        "zh": "你想问什么？请在命令后面写上问题。",
    },
    "forget": {
        "en": "Done: I deleted {count} stored exchanges of yours. Your token usage stays, for the quotas.",
        "zh": "已删除你的 {count} 轮对话记录。token 用量会保留，用于计算额度。",
    },
    "forget_empty": {
        "en": "I had nothing stored from your conversations.",
        "zh": "我没有保存你的任何对话。",
    },
    "export_empty": {
        "en": "There is nothing to export yet: this conversation is empty.",
        "zh": "还没有可导出的内容：这个对话是空的。",
    },
    "export_saved": {
        "en": "Your conversation ({count} exchanges) is saved as {path}.",
        "zh": "你的对话（{count} 轮）已保存为 {path}。",
    },
    "export_attached": {
        "en": "Your conversation ({count} exchanges) is attached as a Markdown file.",
        "zh": "你的对话（{count} 轮）已作为 Markdown 文件附上。",
    },
    "export_failed": {
        "en": "I could not save the export to the export folder ({reason}). The admin should check "
        "that the folder exists and that SynoChatGPT may write to it.",
        "zh": "无法把导出文件保存到导出文件夹（{reason}）。"
        "请管理员确认该文件夹存在且 SynoChatGPT 有写入权限。",
    },
    "export_nowhere": {
        "en": "I cannot export here: no export folder is set and Chat could not be given a link "
        "to fetch the file. The admin can set an export folder on the settings page.",
        "zh": "无法导出：没有设置导出文件夹，也无法让 Chat 下载文件。管理员可以在设置页面设置导出文件夹。",
    },
    "file_not_fetched": {
        "en": "(Chat could not fetch the file from SynoChatGPT, so it is not attached.)",
        "zh": "（Chat 无法从 SynoChatGPT 下载文件，因此没有附上。）",
    },
    "model_now": {"en": "I answer with the model {model}.", "zh": "当前使用的模型是 {model}。"},
    "model_set": {
        "en": "From now on I answer everyone with the model {model}.",
        "zh": "从现在起，我用模型 {model} 回答所有人。",
    },
    "model_unknown": {
        "en": "The model server has no model called {model}, so I keep answering with {current}. "
        "It has: {models}",
        "zh": "模型服务器上没有名为 {model} 的模型，所以我继续用 {current} 回答。它有：{models}",
    },
    "model_unchecked": {
        "en": "From now on I answer everyone with the model {model}. The model server did not list "
        "its models, so I could not check the name: if it is wrong, questions fail until /model "
        "sets another.",
        "zh": "从现在起，我用模型 {model} 回答所有人。模型服务器没有列出它的模型，所以我无法核对这个名称："
        "如果名称有误，提问会失败，直到用 /model 换成别的模型。",
    },
    "setting_fixed": {
        "en": "{name} is fixed by the environment variable {env}, so it cannot be changed here.",
        "zh": "{name} 由环境变量 {env} 设定，无法在这里修改。",
    },
    "model_bad": {"en": "That is not a model name: {problem}.", "zh": "这不是有效的模型名称：{problem}。"},
    "persona_now": {
        "en": "This conversation's instructions:\n{persona}",
        "zh": "本对话的指令：\n{persona}",
    },
    "persona_default": {
        "en": "This conversation uses the default instructions:\n{persona}",
        "zh": "本对话使用默认指令：\n{persona}",
    },
    "persona_set": {
        "en": "New instructions for this conversation are set; they apply from the next question.",
        "zh": "已为本对话设置新指令，从下一个问题开始生效。",
    },
    "persona_reset": {
        "en": "This conversation is back to the default instructions.",
        "zh": "本对话已恢复默认指令。",
    },
    "persona_long": {
        "en": "Those instructions are too long (at most {max} characters).",
        "zh": "指令太长（最多 {max} 个字符）。",
    },
    "paused": {
        "en": "Paused: I answer only admins until someone sends /resume.",
        "zh": "已暂停：在有人发送 /resume 之前，我只回答管理员。",
    },
    "resumed": {"en": "Resumed: I answer everyone again.", "zh": "已恢复：我会重新回答所有人。"},
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
    "thinking_notice": {
        "en": "Thinking… the model is slow; the answer follows.",
        "zh": "思考中……模型较慢，回答随后就到。",
    },
    "still_thinking": {
        "en": "Still working: the model has written nothing for {took}, but it is still connected. "
        "The answer follows when it writes again.",
        "zh": "仍在处理：模型已有 {took} 没有输出，但连接仍在。它继续输出后，回答随后就到。",
    },
    "retry_nothing": {
        "en": "There is no earlier question to ask again.",
        "zh": "没有可以重新提问的问题。",
    },
    "whoami": {
        "en": "Your Synology Chat user id is {user_id}, name {username}.",
        "zh": "你的 Synology Chat 用户 ID 是 {user_id}，名字是 {username}。",
    },
    "whoami_other": {
        "en": "You are {user_id} on the admin's lists (allow-list, admins), name {username}.",
        "zh": "你在管理员名单（允许名单、管理员）中写作 {user_id}，名字是 {username}。",
    },
    "usage": {
        "en": "Tokens used today: {today} ({today_requests} questions). This month: {month}. In "
        "total: {total} ({total_requests} questions).",
        "zh": "今天已用 {today} 个 token（{today_requests} 个问题），本月 {month} 个，累计 {total} 个 token"
        "（{total_requests} 个问题）。",
    },
    "image_usage": {
        "en": "Pictures today: {count}.",
        "zh": "今天已画 {count} 张图片。",
    },
    "image_usage_limit": {
        "en": "Pictures today: {count} of {limit}.",
        "zh": "今天已画 {count} 张图片，每日上限 {limit} 张。",
    },
    "image_empty": {
        "en": "What should I draw? Write it after /image (or after img:).",
        "zh": "要画什么？请在 /image（或“图片：”）后面写上描述。",
    },
    "image_long": {
        "en": "That description is too long to draw: at most {max} characters.",
        "zh": "描述太长，无法作画：最多 {max} 个字符。",
    },
    "image_limit": {
        "en": "You have had your {limit} pictures for today. More tomorrow.",
        "zh": "你今天的 {limit} 张图片已用完，明天再来吧。",
    },
    "drawing": {
        "en": "🎨 Drawing… this can take a minute.",
        "zh": "🎨 正在作画……可能需要一分钟。",
    },
    "image_done": {
        "en": "🎨 Here is your picture.",
        "zh": "🎨 画好了。",
    },
    "image_refused": {
        "en": "The image server refused to draw that (its content policy). Try describing it differently.",
        "zh": "图片服务器拒绝画这个（内容政策）。请换一种描述试试。",
    },
    "image_no_model": {
        "en": "The image server cannot draw with {model}: check Image model (image_model) and "
        "Image server URL on the settings page.",
        "zh": "图片服务器无法使用 {model} 作画：请在设置页面检查“绘图模型”（image_model）和"
        "“图片服务器地址”。",
    },
    "image_failed": {
        "en": "I could not draw the picture: {reason}. Try again later.",
        "zh": "无法生成图片：{reason}。请稍后再试。",
    },
    "image_not_configured": {
        "en": "Drawing is not set up: the admin has to set the image server on the settings page.",
        "zh": "尚未设置作画：管理员需要在设置页面填写图片服务器。",
    },
    "image_why_auth": {"en": "the image server refused the API key", "zh": "图片服务器拒绝了 API 密钥"},
    "image_why_quota": {
        "en": "the image server's account has no credit left",
        "zh": "图片服务器账户的额度已用完",
    },
    "image_why_rate_limit": {
        "en": "the image server is busy (rate limit)",
        "zh": "图片服务器繁忙（频率限制）",
    },
    "image_why_timeout": {"en": "the image server did not answer in time", "zh": "图片服务器没有及时响应"},
    "image_why_unreachable": {"en": "the image server cannot be reached", "zh": "无法连接图片服务器"},
    "image_why_server": {"en": "the image server had an error", "zh": "图片服务器出错"},
    "image_why_bad_request": {"en": "the image server refused the request", "zh": "图片服务器拒绝了请求"},
    "image_why_bad_answer": {"en": "the image server did not send a picture", "zh": "图片服务器没有返回图片"},
    "too_many_pictures": {
        "en": "At most 4 pictures with one question.",
        "zh": "每个问题最多 4 张图片。",
    },
    "retry_picture": {
        "en": "Pictures are not kept, so I cannot answer that again: send the picture once more.",
        "zh": "图片不会被保存，所以无法重新回答：请再发送一次图片。",
    },
    "describe_picture": {
        "en": "Describe this picture.",
        "zh": "请描述这张图片。",
    },
    "picture_gone": {
        "en": "I could not get your picture: its link had expired. Please send it again.",
        "zh": "无法获取你的图片：链接已过期，请重新发送。",
    },
    "picture_too_big": {
        "en": "Your picture is too big for me: at most 10 MB.",
        "zh": "图片太大：最多 10 MB。",
    },
    "picture_not_image": {
        "en": "What you sent is not a picture I can read (PNG, JPEG, WebP or GIF).",
        "zh": "你发送的不是我能读的图片（PNG、JPEG、WebP 或 GIF）。",
    },
    "picture_unreachable": {
        "en": "I could not download your picture just now. Please send it again.",
        "zh": "暂时无法下载你的图片，请重新发送。",
    },
    "err_vision": {
        "en": "The model {model} cannot read pictures. Ask the admin for a model that can (one with "
        "vision), or write your question in words.",
        "zh": "模型 {model} 无法读图片。请让管理员换一个能看图的模型，或者用文字提问。",
    },
    "drawn_note": {
        "en": "[A picture was drawn for this description.]",
        "zh": "[已按此描述画了一张图片。]",
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
    "err_not_https": {
        "en": "The model server's address starts with https://, but the server speaks plain HTTP. "
        "An admin should change it to http:// on the settings page.",
        "zh": "模型服务器地址以 https:// 开头，但服务器使用普通 HTTP。请管理员在设置页面改为 http://。",
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
    # The bounds on one answer (answer_timeout, max_answer_chars): what the user is told.
    "answer_cut_length": {
        "en": "(The answer was cut here: it reached the {limit}-character limit.)",
        "zh": "（回答在此处被截断：已达到 {limit} 个字符的上限。）",
    },
    "answer_cut_time": {
        "en": "(The answer was cut off here: the model took longer than {took}.)",
        "zh": "（回答在此处被截断：模型用时超过了 {took}。）",
    },
    "answer_seconds": {"en": "{seconds} seconds", "zh": "{seconds} 秒"},
    "err_deadline": {
        "en": "The model had not started its answer after {took}, the longest an answer may take. "
        "It may be busy or overloaded. Send /retry to try again.",
        "zh": "模型在 {took} 内没有开始回答（这是一个回答最多可用的时间），可能正忙或负载过高。"
        "发送 /retry 重试。",
    },
}

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z]+")


def detect(text: str) -> str | None:
    """A language guess from one message, or None when it gives no clear signal (a number, an
    emoji, a command alone). The whole text decides, not any one character: Chinese when it
    has at least as many Chinese characters as English words. Words, not letters, as a Chinese
    word is one or two characters while "Nextcloud" is nine letters: one "你好" in an English
    sentence stays English, and "Docker" or "Python" in a Chinese one stays Chinese."""
    command = text.lstrip().startswith("/")
    if command:  # the command word is English whatever the person writes; what follows counts
        text = [*text.split(maxsplit=1), ""][1]
    han = len(_HAN.findall(text))
    if han and han >= len(_WORD.findall(text)):
        return "zh"
    if len(_LATIN.findall(text)) >= 3 and not command:
        return "en"
    return None


def has(key: str) -> bool:
    return key in MESSAGES


def t(lang: str, key: str, **values: Any) -> str:
    table = MESSAGES[key]
    return table.get(lang, table["en"]).format(**values)


def pick(configured: str, text: str) -> str:
    """The language of an answer given at once, before the person's file is read: the
    configured one, else a guess from the message itself."""
    return configured if configured in LANGUAGES else (detect(text) or "en")


def duration(lang: str, seconds: float) -> str:
    """'5 h 12 min' / '5 小时 12 分钟'."""
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if lang == "zh":
        return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def limit(lang: str, which: str, size: int, wait: float = 0.0, *, resets: Any = None, now: Any = None) -> str:
    """What a person is told about the limit they hit: which one, and when it lets them ask again.
    `resets`/`now` are datetimes, for the token quotas."""
    if which == "daily":
        return t(lang, "limit_daily", limit=size, left=duration(lang, (resets - now).total_seconds()))
    if which == "monthly":
        return t(lang, "limit_monthly", limit=size, day=resets.date().isoformat())
    return t(lang, f"limit_{which}", limit=size, wait=max(1, round(wait + 0.49)))
