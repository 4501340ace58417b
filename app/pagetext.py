"""The settings page's words in English and Simplified Chinese (Traditional Chinese is in
pagetext_hant.py), the choice of language, and the sentences for each error a check can meet."""

from __future__ import annotations

import json
from typing import Any, Protocol

from app import pagetext_hant
from app.platforms import registry
from app.settings import Invalid, Setting, masked, typed

LANGUAGES = ("en", "zh", "zh-Hant")
NAMES = {"en": "English", "zh": "简体中文", "zh-Hant": "繁體中文"}

TEXTS: dict[str, dict[str, str]] = {
    # layout, login, first run
    "language": {"en": "Language", "zh": "语言"},
    "logout": {"en": "Log out", "zh": "退出登录"},
    "setup_title": {"en": "Welcome: choose the admin password", "zh": "欢迎：设置管理员密码"},
    "setup_intro": {
        "en": "To prove that this appliance is yours, enter the setup code that SynoChatGPT printed in "
        "its log when it started (docker logs, the terminal of make run, or the package's log file).",
        "zh": "为证明这台设备属于你，请输入 SynoChatGPT 启动时在日志中打印的设置码（docker logs、"
        "make run 所在的终端，或套件的日志文件）。",
    },
    "setup_log_example": {
        "en": "WARNING app: No admin password is set. … enter the setup code ABCD-EFGH …",
        "zh": "WARNING app: No admin password is set. … enter the setup code ABCD-EFGH …",
    },
    "setup_code": {"en": "Setup code", "zh": "设置码"},
    "setup_submit": {"en": "Set password and continue", "zh": "设置密码并继续"},
    "new_password": {"en": "New password", "zh": "新密码"},
    "confirm_password": {"en": "Repeat the new password", "zh": "再次输入新密码"},
    "current_password": {"en": "Current password", "zh": "当前密码"},
    "password_rule": {"en": "At least 8 characters.", "zh": "至少 8 个字符。"},
    "password": {"en": "Password", "zh": "密码"},
    "login_title": {"en": "Log in to SynoChatGPT", "zh": "登录 SynoChatGPT"},
    "login_submit": {"en": "Log in", "zh": "登录"},
    # The command itself follows each (recovery.py); the words say where to type it.
    "login_forgot_source": {
        "en": "Forgot the password? In a terminal on the computer that runs SynoChatGPT, run this "
        "command, then type the new password (at least 8 characters) and press Enter:",
        "zh": "忘记密码？在运行 SynoChatGPT 的电脑的终端中运行以下命令，然后输入新密码（至少 8 个字符）"
        "并按回车：",
    },
    "login_forgot_docker": {
        "en": "Forgot the password? On the machine that runs Docker (on a NAS: over SSH, with sudo "
        "before docker), run this command (with your container's name if it is not synochatgpt: "
        "docker ps shows it), then type the new password (at least 8 characters) and press Enter:",
        "zh": "忘记密码？在运行 Docker 的机器上（在 NAS 上：通过 SSH，并在 docker 前加 sudo）运行以下命令"
        "（如果容器名称不是 synochatgpt，请换成 docker ps 显示的名称），然后输入新密码（至少 8 个字符）"
        "并按回车：",
    },
    "login_forgot_dsm": {
        "en": "Forgot the password? Log in to the NAS over SSH as an administrator (Control Panel > "
        "Terminal & SNMP turns SSH on) and run this command. Type your own DSM password when sudo "
        "asks, then the new password for this page (at least 8 characters), each followed by Enter:",
        "zh": "忘记密码？以管理员身份通过 SSH 登录 NAS（在“控制面板 > 终端机和 SNMP”中启用 SSH），"
        "运行以下命令。sudo 询问时输入你自己的 DSM 密码，然后输入本页面的新密码（至少 8 个字符），"
        "每次都按回车：",
    },
    "csrf": {
        "en": "The form had expired. Please try again.",
        "zh": "表单已过期，请重试。",
    },
    "bad_code": {
        "en": "That setup code is not right. Look for it in the log.",
        "zh": "设置码不正确，请在日志中查找。",
    },
    "bad_password": {"en": "Wrong password.", "zh": "密码错误。"},
    "bad_current": {"en": "The current password is wrong.", "zh": "当前密码错误。"},
    "too_many": {
        "en": "Too many wrong attempts. Try again in {wait} seconds.",
        "zh": "错误次数过多，请在 {wait} 秒后重试。",
    },
    "login_busy": {
        "en": "Many logins are being checked right now. Try again in {wait} seconds.",
        "zh": "当前正在核对的登录过多，请在 {wait} 秒后重试。",
    },
    "pw_short": {"en": "The password needs at least 8 characters.", "zh": "密码至少需要 8 个字符。"},
    "pw_long": {"en": "The password is too long.", "zh": "密码太长。"},
    "pw_mismatch": {"en": "The two passwords are not the same.", "zh": "两次输入的密码不一致。"},
    "pw_fixed": {
        "en": "The admin password is set by the environment variable SYNOCHATGPT_ADMIN_PASSWORD; change it there.",
        "zh": "管理员密码由环境变量 SYNOCHATGPT_ADMIN_PASSWORD 设定，请在那里修改。",
    },
    "msg_people_saved": {"en": "The quotas are saved.", "zh": "额度已保存。"},
    "msg_saved": {
        "en": "Settings saved. They apply to the next message.",
        "zh": "设置已保存，将用于下一条消息。",
    },
    "msg_password_changed": {
        "en": "Password changed. Other browsers were logged out.",
        "zh": "密码已修改，其他浏览器已退出登录。",
    },
    "msg_logged_out": {"en": "You are logged out.", "zh": "你已退出登录。"},
    "msg_welcome": {
        "en": "The admin password is set. Next: the model and the Synology Chat bot below.",
        "zh": "管理员密码已设置。下一步：在下方设置模型和 Synology Chat 机器人。",
    },
    # the page
    "page_title": {"en": "Settings", "zh": "设置"},
    "sections": {"en": "Sections", "zh": "页面导航"},
    "sec_status": {"en": "Status", "zh": "状态"},
    "sec_guide": {"en": "Setup guide", "zh": "设置向导"},
    "sec_settings": {"en": "Settings", "zh": "设置"},
    "sec_webhooks": {"en": "Recent webhooks", "zh": "最近的 Webhook 请求"},
    "sec_account": {"en": "Admin password", "zh": "管理员密码"},
    "fix_fields": {"en": "Some settings need attention.", "zh": "部分设置需要修改。"},
    "fix_fields_count": {
        "en": "Nothing was saved: {count} setting(s) need attention (marked below).",
        "zh": "未保存：有 {count} 项设置需要修改（见下方标记）。",
    },
    "st_version": {"en": "Version", "zh": "版本"},
    "st_uptime": {"en": "Running for", "zh": "已运行"},
    "dur_days": {"en": "{days}d {hours}h {minutes}m", "zh": "{days} 天 {hours} 小时 {minutes} 分"},
    "dur_hours": {"en": "{hours}h {minutes}m", "zh": "{hours} 小时 {minutes} 分"},
    "dur_minutes": {"en": "{minutes}m {seconds}s", "zh": "{minutes} 分 {seconds} 秒"},
    "st_queue": {"en": "Messages waiting", "zh": "等待中的消息"},
    "st_latency": {"en": "Model answer time", "zh": "模型回答时间"},
    "st_latency_value": {
        "en": "median {median} s, slowest {max} s (last {count})",
        "zh": "中位数 {median} 秒，最慢 {max} 秒（最近 {count} 次）",
    },
    "st_none_yet": {"en": "no answers yet", "zh": "尚无回答"},
    "st_model": {"en": "Model", "zh": "模型"},
    "st_bot": {"en": "Synology Chat bot", "zh": "Synology Chat 机器人"},
    "st_ready": {"en": "configured", "zh": "已配置"},
    "st_not_set": {"en": "not set up yet", "zh": "尚未设置"},
    "st_waiting": {"en": "Answers waiting to be sent", "zh": "等待发送的回答"},
    "st_waiting_value": {
        "en": "{count} (Synology Chat or QQ cannot be reached; next try at {time})",
        "zh": "{count} 条（无法连接 Synology Chat 或 QQ；下次尝试：{time}）",
    },
    "st_storage": {"en": "Data folder", "zh": "数据文件夹"},
    "st_storage_ok": {"en": "writable", "zh": "可写入"},
    "st_storage_full": {
        "en": "The disk is full: {count} message(s) wait and are answered once space is freed ({error})",
        "zh": "磁盘已满：{count} 条消息正在等待，释放空间后会得到回答（{error}）",
    },
    "st_storage_failing": {
        "en": "Cannot write to the data folder: {count} message(s) wait and are retried ({error})",
        "zh": "无法写入数据文件夹：{count} 条消息正在等待，会自动重试（{error}）",
    },
    "chart_title": {"en": "Tokens per user per day (14 days)", "zh": "每位用户每天的 token（14 天）"},
    "chart_table": {"en": "Show the numbers", "zh": "显示数字"},
    "chart_empty": {"en": "No tokens used in the last 14 days.", "zh": "最近 14 天没有使用 token。"},
    "others": {"en": "others", "zh": "其他"},
    "user": {"en": "User", "zh": "用户"},
    "recent_errors": {"en": "Recent errors", "zh": "最近的错误"},
    "no_errors": {"en": "No errors since the start.", "zh": "启动以来没有错误。"},
    "time": {"en": "Time", "zh": "时间"},
    "source": {"en": "Where", "zh": "来源"},
    "what": {"en": "What happened", "zh": "详情"},
    "src_model": {"en": "model", "zh": "模型"},
    "src_image": {"en": "image server", "zh": "图片服务器"},
    "src_chat": {"en": "Synology Chat", "zh": "Synology Chat"},
    "src_storage": {"en": "data folder", "zh": "数据文件夹"},
    "guide_intro": {
        "en": "Connect a Synology Chat bot in five steps. You need to be a Chat administrator.",
        "zh": "五步连接 Synology Chat 机器人（需要 Chat 管理员权限）。",
    },
    "outgoing_url": {"en": "Outgoing URL for the bot", "zh": "机器人的传出 URL"},
    "outgoing_help": {
        "en": "Made from the address of this page. If Chat runs on another machine, use an address it can "
        "reach (the NAS's LAN IP, not localhost).",
        "zh": "由本页面的地址生成。如果 Chat 运行在另一台机器上，请使用它能访问的地址（NAS 的局域网 IP，"
        "而不是 localhost）。",
    },
    "copy": {"en": "Copy", "zh": "复制"},
    "copied": {"en": "Copied", "zh": "已复制"},
    "copy_failed": {"en": "Select the text and copy it by hand", "zh": "请手动选中并复制"},
    "guide_1": {
        "en": "In Synology Chat, open your avatar menu > Integration > Bots > Create, and give the bot a name.",
        "zh": "在 Synology Chat 中点击头像 > 整合 > 机器人 > 创建，并为机器人命名。",
    },
    "guide_2": {
        "en": "Paste the outgoing URL above into the bot's Outgoing URL field.",
        "zh": "将上面的传出 URL 粘贴到机器人的“传出 URL”栏。",
    },
    "guide_3": {
        "en": "Copy the bot's Incoming URL (it contains method=chatbot and the token), paste it into "
        "Bot incoming URL below, and save.",
        "zh": "复制机器人的“传入 URL”（包含 method=chatbot 和 token），粘贴到下方的“机器人传入 URL”并保存。",
    },
    "guide_4": {
        "en": "Set the model server and model, then press Test model.",
        "zh": "设置模型服务器和模型，然后点击“测试模型”。",
    },
    "guide_5": {
        "en": "Send the bot a direct message in Chat. It shows up under Recent webhooks; its user id fills "
        "in Send test message.",
        "zh": "在 Chat 中给机器人发一条私信。它会出现在“最近的 Webhook 请求”中，其用户 ID 会自动填入“发送测试消息”。",
    },
    "g_model": {"en": "Model", "zh": "模型"},
    "g_images": {"en": "Pictures", "zh": "图片"},
    "g_behaviour": {"en": "Behaviour", "zh": "行为"},
    "g_advanced": {"en": "Advanced", "zh": "高级"},
    "g_access": {"en": "Access and limits", "zh": "访问与限额"},
    "g_webchat": {"en": "Web chat", "zh": "网页聊天"},
    "account_name": {"en": "Name", "zh": "名称"},
    "account_password": {"en": "Password (at least 8 characters)", "zh": "密码（至少 8 个字符）"},
    "open_chat": {"en": "Open the web chat", "zh": "打开网页聊天"},
    "bad_login": {"en": "Wrong name or password.", "zh": "名称或密码错误。"},
    "wc_title": {"en": "Chat", "zh": "聊天"},
    "wc_login_title": {"en": "Log in to the web chat", "zh": "登录网页聊天"},
    "wc_login_help": {
        "en": "The admin of this NAS gives out web chat accounts on the settings page. The admin logs in "
        "with the name admin and the admin password.",
        "zh": "网页聊天账号由 NAS 管理员在设置页面中创建。管理员用名称 admin 和管理员密码登录。",
    },
    "wc_signed_in": {"en": "Logged in as {name}", "zh": "已登录：{name}"},
    "wc_settings": {"en": "Settings", "zh": "设置"},
    "wc_new": {"en": "New chat", "zh": "新对话"},
    "wc_chats": {"en": "Chats", "zh": "对话"},
    "wc_empty": {
        "en": "Ask anything. Enter sends, Shift+Enter starts a new line.",
        "zh": "尽管问吧。按 Enter 发送，Shift+Enter 换行。",
    },
    "wc_placeholder": {"en": "Your message", "zh": "输入消息"},
    "wc_send": {"en": "Send", "zh": "发送"},
    "wc_stop": {"en": "Stop", "zh": "停止"},
    "wc_regenerate": {"en": "Regenerate", "zh": "重新生成"},
    "wc_export": {"en": "Export", "zh": "导出"},
    "wc_delete": {"en": "Delete", "zh": "删除"},
    "wc_delete_confirm": {"en": "Delete this chat for good?", "zh": "确定永久删除这个对话？"},
    "wc_stopped": {"en": "(stopped)", "zh": "（已停止）"},
    "wc_error": {
        "en": "The answer could not be fetched. Check the connection and try again.",
        "zh": "无法获取回答，请检查网络后重试。",
    },
    "wc_copy": {"en": "Copy", "zh": "复制"},
    "wc_copied": {"en": "Copied", "zh": "已复制"},
    "wc_you": {"en": "You", "zh": "你"},
    "wc_untitled": {"en": "Untitled", "zh": "无标题"},
    "wc_menu": {"en": "Chats", "zh": "对话列表"},
    "wc_draw": {"en": "Draw", "zh": "画图"},
    "wc_pictures": {"en": "{count} picture(s)", "zh": "{count} 张图片"},
    "wc_pictures_too_big": {
        "en": "The pictures are too big to send together: send fewer at once.",
        "zh": "图片太大，无法一起发送：请一次少发几张。",
    },
    "wc_remove_picture": {"en": "Remove picture", "zh": "移除图片"},
    "wc_attach": {"en": "Add a picture", "zh": "添加图片"},
    "wc_drawing": {"en": "Drawing… this can take a minute.", "zh": "正在作画……可能需要一分钟。"},
    "wc_picture": {"en": "A picture drawn for: {prompt}", "zh": "按此描述画的图：{prompt}"},
    "wc_too_long": {"en": "The message is too long.", "zh": "消息太长。"},
    "wc_busy": {
        "en": "This chat is still answering. Wait, or stop it.",
        "zh": "这个对话仍在回答中，请稍候或先停止。",
    },
    "wc_own_cap": {
        "en": "You already have {limit} answers being written at once. Wait for one to finish, or "
        "stop one, then ask again.",
        "zh": "你已有 {limit} 个回答正在生成。请等其中一个完成或先停止，再提问。",
    },
    "wc_all_cap": {
        "en": "The web chat is writing as many answers as it can at once. Try again in a moment.",
        "zh": "网页聊天正在同时生成尽可能多的回答，请稍后再试。",
    },
    "c_access_everyone": {"en": "Everyone", "zh": "所有人"},
    "c_access_listed": {"en": "Only the allow-list and admins", "zh": "仅允许列表中的用户和管理员"},
    "ch_new": {"en": "Add a channel", "zh": "添加频道"},
    "ch_name": {"en": "Name (yours, for the page and the logs)", "zh": "名称（自定，用于本页和日志）"},
    "ch_context": {"en": "Conversation", "zh": "对话方式"},
    "ch_ctx_shared": {"en": "One for the whole channel", "zh": "整个频道共用一个"},
    "ch_ctx_per_user": {"en": "One per person in the channel", "zh": "频道中每人一个"},
    "ch_token": {"en": "Outgoing webhook token", "zh": "传出 Webhook 的令牌"},
    "ch_url": {"en": "Channel's incoming webhook URL", "zh": "频道的传入 Webhook URL"},
    "ch_url_hint": {"en": "…method=incoming…&token=…", "zh": "…method=incoming…&token=…"},
    "ch_triggers": {
        "en": "Trigger words (optional; the bot then answers only messages starting with one)",
        "zh": "触发词（可选；设置后只回答以触发词开头的消息）",
    },
    "ch_delete": {"en": "Remove this channel", "zh": "删除此频道"},
    "token_remove": {"en": "Remove", "zh": "删除"},
    "token_add": {"en": "Paste a slash command's token to add it", "zh": "粘贴斜杠命令的令牌以添加"},
    "sec_people": {"en": "People", "zh": "用户"},
    "people_help": {
        "en": "Everyone who has chatted with the bot, most recent first. Leave a quota empty for the "
        "general one (now {daily} a day, {monthly} a month); 0 means no limit for that person.",
        "zh": "与机器人聊过天的所有人，最近的在前。额度留空则使用通用额度（目前每天 {daily}，每月 {monthly}）；"
        "填 0 表示此人不受限。",
    },
    "people_empty": {"en": "Nobody has chatted yet.", "zh": "还没有人聊过天。"},
    "role": {"en": "Role", "zh": "角色"},
    "role_admin": {"en": "admin", "zh": "管理员"},
    "role_allowed": {"en": "allowed", "zh": "已允许"},
    "role_guest": {"en": "not allowed", "zh": "未获允许"},
    "role_everyone": {"en": "may chat (everyone may)", "zh": "可以聊天（所有人都可以）"},
    "person_web": {"en": "web chat", "zh": "网页聊天"},
    "role_blocked": {"en": "blocked", "zh": "已屏蔽"},
    "used_today": {"en": "Tokens today", "zh": "今日 token"},
    "pictures_today": {"en": "Pictures today", "zh": "今日图片"},
    "used_month": {"en": "Tokens this month", "zh": "本月 token"},
    "own_daily": {"en": "Own daily quota", "zh": "个人每日额度"},
    "own_monthly": {"en": "Own monthly quota", "zh": "个人每月额度"},
    "general": {"en": "general", "zh": "通用"},
    "save_quotas": {"en": "Save quotas", "zh": "保存额度"},
    "no_limit": {"en": "no limit", "zh": "不限"},
    "fixed_by": {
        "en": "Set by the environment variable {env}; change it there.",
        "zh": "由环境变量 {env} 设定，请在那里修改。",
    },
    "secret_set": {"en": "Set, ends in …{tail}", "zh": "已设置，末尾为 …{tail}"},
    "secret_set_short": {"en": "Set", "zh": "已设置"},
    "secret_unset": {"en": "Not set", "zh": "未设置"},
    "secret_typed": {
        "en": "As you typed it: not saved yet, saved with the form once the marked fields are right",
        "zh": "保留了你输入的内容：尚未保存，改正标出的项目后随表单一起保存",
    },
    "secret_replace": {"en": "Paste a new value to replace it", "zh": "粘贴新值以替换"},
    "secret_enter": {"en": "Paste the value", "zh": "粘贴值"},
    "secret_clear": {"en": "Clear it", "zh": "清除"},
    "not_set": {"en": "(not set)", "zh": "（未设置）"},
    "yes": {"en": "on", "zh": "开"},
    "no": {"en": "off", "zh": "关"},
    "save": {"en": "Save settings", "zh": "保存设置"},
    "test_model": {"en": "Test model", "zh": "测试模型"},
    "test_model_help": {
        "en": "Uses the values on this page, saved or not.",
        "zh": "使用本页面上的值（无论是否已保存）。",
    },
    "pick_model": {"en": "Models on the server", "zh": "服务器上的模型"},
    "testing": {"en": "Testing…", "zh": "测试中…"},
    "model_ok": {"en": "The model answered in {ms} ms:", "zh": "模型在 {ms} 毫秒内回答："},
    "models_found": {"en": "{count} model(s) on the server.", "zh": "服务器上有 {count} 个模型。"},
    "models_unlisted": {
        "en": "The server did not list its models ({detail}).",
        "zh": "服务器没有列出模型（{detail}）。",
    },
    "test_user": {"en": "Chat user id for a test message", "zh": "接收测试消息的 Chat 用户 ID"},
    "test_user_help": {
        "en": "Your id shows in Recent webhooks after you message the bot, or send it /whoami.",
        "zh": "给机器人发消息后，你的 ID 会显示在“最近的 Webhook 请求”中；也可以发送 /whoami。",
    },
    "test_chat": {"en": "Send test message", "zh": "发送测试消息"},
    "chat_ok": {"en": "Chat accepted the message. Chat answered:", "zh": "Chat 已接受消息。Chat 的回复："},
    "bad_user_id": {
        "en": "Enter a Chat user id: a number such as 4.",
        "zh": "请输入 Chat 用户 ID：一个数字，例如 4。",
    },
    "request_failed": {
        "en": "The settings page could not reach SynoChatGPT. Is it running?",
        "zh": "设置页面无法连接 SynoChatGPT，它在运行吗？",
    },
    "webhooks_help": {
        "en": "The last 50 requests to /webhook since the start, newest first. Message texts and tokens are "
        "never shown.",
        "zh": "启动以来最近 50 个 /webhook 请求，最新的在前。不显示消息内容和 token。",
    },
    "refresh": {"en": "Refresh", "zh": "刷新"},
    "from": {"en": "From", "zh": "来自"},
    "result": {"en": "Result", "zh": "结果"},
    "no_webhooks": {
        "en": "No webhook requests yet. Send the bot a message in Chat.",
        "zh": "尚无 Webhook 请求。请在 Chat 中给机器人发一条消息。",
    },
    "change_password": {"en": "Change password", "zh": "修改密码"},
    # webhook outcomes
    "wh_accepted": {"en": "accepted", "zh": "已接受"},
    "wh_duplicate": {"en": "repeated delivery, answered once", "zh": "重复投递，只回答一次"},
    "wh_wrong_token": {
        "en": "wrong token: the bot's token in Chat differs from Bot incoming URL",
        "zh": "token 错误：Chat 中机器人的 token 与“机器人传入 URL”不一致",
    },
    "wh_not_configured": {
        "en": "refused: no bot token is set yet (paste Bot incoming URL)",
        "zh": "已拒绝：尚未设置机器人 token（请粘贴机器人传入 URL）",
    },
    "wh_no_incoming_url": {
        "en": "not answered: Bot incoming URL is not set",
        "zh": "未回答：未设置机器人传入 URL",
    },
    "wh_empty_prompt": {"en": "answered: nothing to draw was given", "zh": "已回复：没有给出作画描述"},
    "wh_busy": {
        "en": "refused: the queue is full (the user was told)",
        "zh": "已拒绝：队列已满（已告知用户）",
    },
    "wh_refused": {"en": "not answered: not allowed to chat", "zh": "未回答：无权使用"},
    "wh_paused": {"en": "not answered: the bot is paused", "zh": "未回答：机器人已暂停"},
    "wh_limited": {"en": "not answered: a rate limit", "zh": "未回答：超出频率限制"},
    "wh_own_post": {"en": "ignored: the bot's own post", "zh": "已忽略：机器人自己的消息"},
    "wh_no_trigger": {"en": "ignored: no trigger word", "zh": "已忽略：没有触发词"},
    "wh_slash_reply": {"en": "slash command answered at once", "zh": "斜杠命令已直接回答"},
    "wh_empty": {"en": "answered at once: no question", "zh": "已直接回答：没有问题"},
    "wh_store_failed": {"en": "could not be stored (disk full?)", "zh": "无法保存（磁盘已满？）"},
    "wh_no_token": {"en": "refused: no token in the request", "zh": "已拒绝：请求中没有 token"},
    "wh_too_large": {"en": "refused: larger than 1 MB", "zh": "已拒绝：超过 1 MB"},
    "wh_bad_type": {"en": "refused: not a form", "zh": "已拒绝：不是表单"},
    "wh_bad_body": {"en": "refused: a field is missing or wrong", "zh": "已拒绝：缺少字段或字段错误"},
    # what the parser found wrong with a refused request (http.BadRequest's key); {field} is
    # the protocol's own name for it, the same in every language
    "whd_missing": {"en": "{field} is missing", "zh": "缺少 {field}"},
    "whd_not_number": {"en": "{field} must be a number", "zh": "{field} 必须是数字"},
    "whd_missing_or_nan": {"en": "{field} is missing or not a number", "zh": "{field} 缺失或不是数字"},
    "whd_missing_or_long": {"en": "{field} is missing or too long", "zh": "{field} 缺失或过长"},
    "whd_malformed": {"en": "{field} is malformed", "zh": "{field} 格式错误"},
    "whd_not_ms": {"en": "{field} is not a time in milliseconds", "zh": "{field} 不是以毫秒计的时间"},
    "whd_too_large": {"en": "the body is larger than 1 MB", "zh": "请求体超过 1 MB"},
    "whd_bad_chunks": {"en": "the chunked body is malformed", "zh": "分块传输的请求体格式错误"},
    "whd_not_utf8": {"en": "the body is not UTF-8", "zh": "请求体不是 UTF-8 编码"},
    "whd_bad_form": {"en": "the form body is malformed", "zh": "表单格式错误"},
    "whd_not_json": {"en": "the body is not JSON", "zh": "请求体不是 JSON"},
    "whd_not_object": {"en": "the body must be a JSON object", "zh": "请求体必须是 JSON 对象"},
    "whd_wrong_type": {"en": "a field has the wrong type", "zh": "某个字段的类型错误"},
    "whd_bad_character": {"en": "a field holds an invalid character", "zh": "某个字段含有无效字符"},
    # model check errors
    "me_not_configured": {
        "en": "Set the model server URL (and an API key for a cloud service) first.",
        "zh": "请先设置模型服务器 URL（云服务还需 API 密钥）。",
    },
    "me_auth": {
        "en": "The server refused the API key (HTTP {status}). Check the key. {detail}",
        "zh": "服务器拒绝了 API 密钥（HTTP {status}），请检查密钥。{detail}",
    },
    "me_quota": {
        "en": "The account has no quota or credit left. {detail}",
        "zh": "账户已没有额度或余额。{detail}",
    },
    "me_not_found": {
        "en": "Not found (HTTP 404): the model name or the server URL is wrong (it usually ends in /v1). {detail}",
        "zh": "未找到（HTTP 404）：模型名称或服务器 URL 有误（通常以 /v1 结尾）。{detail}",
    },
    "me_rate_limit": {
        "en": "Rate limited by the server; try again shortly. {detail}",
        "zh": "服务器限流，请稍后再试。{detail}",
    },
    "me_timeout": {
        "en": "The server did not answer in time. A local model may still be loading; try again.",
        "zh": "服务器未及时回答。本地模型可能仍在加载，请重试。",
    },
    "me_deadline": {
        "en": "The model started no answer within the longest answer time (answer_timeout).",
        "zh": "模型在最长回答时间（answer_timeout）内没有开始回答。",
    },
    "me_unreachable": {
        "en": "Cannot connect to the model server: check the URL, the port and that the server runs. {detail}",
        "zh": "无法连接模型服务器：请检查 URL、端口以及服务器是否在运行。{detail}",
    },
    "me_not_https": {
        "en": "The model server URL starts with https://, but the server there speaks plain HTTP. Use http:// "
        "in the model server URL.",
        "zh": "模型服务器 URL 以 https:// 开头，但那里的服务器使用普通 HTTP。请在模型服务器 URL 中改用 http://。",
    },
    "me_server": {
        "en": "The model server had an error (HTTP {status}). {detail}",
        "zh": "模型服务器出错（HTTP {status}）。{detail}",
    },
    "me_context": {
        "en": "The prompt is too long for this model. {detail}",
        "zh": "提示词超出该模型的上下文长度。{detail}",
    },
    "me_bad_request": {
        "en": "The server refused the request (HTTP {status}): {detail}",
        "zh": "服务器拒绝了请求（HTTP {status}）：{detail}",
    },
    "me_bad_response": {
        "en": "The server's answer was not what an OpenAI-compatible server sends. Is the URL right?",
        "zh": "服务器的回答不符合 OpenAI 兼容格式，URL 正确吗？",
    },
    # an error's kind in a word or two, for Recent errors (kinds without one show none)
    "ek_auth": {"en": "API key refused", "zh": "API 密钥被拒绝"},
    "ek_quota": {"en": "No credit left", "zh": "额度已用完"},
    "ek_not_found": {"en": "Not found", "zh": "未找到"},
    "ek_rate_limit": {"en": "Rate limited", "zh": "被限流"},
    "ek_timeout": {"en": "No answer in time", "zh": "未及时回答"},
    "ek_unreachable": {"en": "Cannot connect", "zh": "无法连接"},
    "ek_not_https": {"en": "Not HTTPS", "zh": "不是 HTTPS"},
    "ek_server": {"en": "Server error", "zh": "服务器出错"},
    "ek_context": {"en": "Prompt too long", "zh": "提示词过长"},
    "ek_bad_request": {"en": "Request refused", "zh": "请求被拒绝"},
    "ek_bad_response": {"en": "Unexpected answer", "zh": "回答格式异常"},
    "ek_deadline": {"en": "Answer took too long", "zh": "回答耗时过长"},
    "ek_token": {"en": "Wrong token", "zh": "token 错误"},
    "ek_payload": {"en": "Not delivered", "zh": "未送达"},
    "ek_tls": {"en": "Certificate problem", "zh": "证书问题"},
    "ek_config": {"en": "Not set up", "zh": "未设置"},
    "ek_too_long": {"en": "Too long", "zh": "过长"},
    "ek_too_fast": {"en": "Too fast", "zh": "过快"},
    "ek_file": {"en": "File not fetched", "zh": "文件未取到"},
    "ek_api": {"en": "Refused", "zh": "被拒绝"},
    # chat check errors
    "ce_no_url": {"en": "Set Bot incoming URL first.", "zh": "请先设置机器人传入 URL。"},
    "ce_token": {
        "en": "Chat answered 404: the token in Bot incoming URL is wrong or the bot was deleted. Copy the "
        "incoming URL again from the bot's settings in Chat.",
        "zh": "Chat 返回 404：机器人传入 URL 中的 token 错误或机器人已被删除。请从 Chat 的机器人设置中重新复制传入 URL。",
    },
    "ce_file": {
        "en": "Chat could not download the attached file: {detail}",
        "zh": "Chat 无法下载附件：{detail}",
    },
    "ce_payload": {
        "en": "Chat could not deliver the message ({detail}). Is the user id right, and has that user "
        "opened the bot at least once?",
        "zh": "Chat 无法投递消息（{detail}）。用户 ID 正确吗？该用户是否至少打开过一次机器人？",
    },
    "ce_too_fast": {
        "en": "Chat says posts come too fast; wait a moment.",
        "zh": "Chat 提示发送过快，请稍候。",
    },
    "ce_too_long": {"en": "Chat says the message is too long.", "zh": "Chat 提示消息过长。"},
    "ce_tls": {
        "en": "Certificate error: the NAS's HTTPS certificate could not be verified. See CA certificate "
        "file and Verify the NAS's HTTPS certificate under Advanced.",
        "zh": "证书错误：无法验证 NAS 的 HTTPS 证书。请查看“高级”中的“CA 证书文件”和“验证 NAS 的 HTTPS 证书”。",
    },
    "ce_not_https": {
        "en": "Bot incoming URL starts with https://, but the NAS speaks plain HTTP at that port. Use http:// "
        "(DSM's HTTP port is usually 5000, its HTTPS port 5001).",
        "zh": "机器人传入 URL 以 https:// 开头，但 NAS 在该端口使用普通 HTTP。请改用 http://"
        "（DSM 的 HTTP 端口通常是 5000，HTTPS 端口是 5001）。",
    },
    "ce_timeout": {
        "en": "The NAS did not answer in time. The message may still arrive.",
        "zh": "NAS 未及时回答，消息可能仍会送达。",
    },
    "ce_unreachable": {
        "en": "Cannot reach the NAS at the address in Bot incoming URL ({detail}). From this machine, is "
        "that host and port right?",
        "zh": "无法通过机器人传入 URL 中的地址连接 NAS（{detail}）。从本机看，主机和端口正确吗？",
    },
    "ce_http": {"en": "{detail}", "zh": "{detail}"},
    "ce_api": {"en": "Chat refused the message: {detail}", "zh": "Chat 拒绝了消息：{detail}"},
    # setting problems
    "p_required": {"en": "This is required.", "zh": "此项必填。"},
    "p_url": {"en": "Enter an http:// or https:// address.", "zh": "请输入 http:// 或 https:// 地址。"},
    "p_choice": {"en": "Choose one of: {choices}.", "zh": "请从以下选项中选择：{choices}。"},
    "p_bool": {"en": "Must be on or off.", "zh": "只能是开或关。"},
    "p_int": {"en": "Enter a whole number.", "zh": "请输入整数。"},
    "p_number": {"en": "Enter a number, such as {example}.", "zh": "请输入数字，例如 {example}。"},
    "p_finite": {"en": "Enter an ordinary number.", "zh": "请输入普通数字。"},
    "p_range": {"en": "Enter a number from {low} to {high}.", "zh": "请输入 {low} 到 {high} 之间的数字。"},
    "p_too_long": {
        "en": "At most {max} characters; this has {count}. Shorten it.",
        "zh": "最多 {max} 个字符，这里有 {count} 个。请缩短。",
    },
    "at_most_chars": {"en": "At most {max} characters.", "zh": "最多 {max} 个字符。"},
    "warn_prompt_budget": {
        "en": "Saved, but the system prompt is about {tokens} tokens of the {budget}-token context budget. "
        "It goes whole with every message, so only the rest holds a conversation's earlier messages "
        "(none once it is over the budget), and every message costs at least {tokens} tokens. "
        "Shorten it or raise the context budget.",
        "zh": "已保存，但系统提示词约 {tokens} 个 token，上下文预算为 {budget} 个 token。它会随每条消息完整发送，"
        "对话中较早的消息只能用剩下的预算（超出预算时一条也放不下），每条消息至少消耗 {tokens} 个 token。"
        "请缩短提示词或调高上下文预算。",
    },
    "p_image_size": {
        "en": "Enter width x height, such as 1024x1024, or auto.",
        "zh": "请输入 宽x高，例如 1024x1024，或 auto。",
    },
    "p_pw_short": {"en": "At least 8 characters.", "zh": "至少 8 个字符。"},
    "p_pw_long": {"en": "Too long.", "zh": "太长。"},
    "p_unknown": {"en": "Not a setting.", "zh": "不是有效的设置项。"},
    "p_fixed": {"en": "Set by the environment variable {env}.", "zh": "由环境变量 {env} 设定。"},
    "p_list_entry": {
        "en": "Each entry is a user id or a user name without spaces; this one is not: {entry}",
        "zh": "每一项应为用户 ID 或不含空格的用户名，这一项不是：{entry}",
    },
    "p_token": {
        "en": "A token has no spaces and is at most 100 characters.",
        "zh": "令牌不含空格，最长 100 个字符。",
    },
    "p_account_name": {
        "en": "A name has 1 to 32 characters, no spaces, commas, colons or slashes, and is not admin: {name}",
        "zh": "名称为 1 到 32 个字符，不含空格、逗号、冒号或斜杠，且不能是 admin：{name}",
    },
    "p_account_twice": {
        "en": "There is already an account called {name}.",
        "zh": "已经有名为 {name} 的账号。",
    },
    "p_account_password": {
        "en": "{name} needs a password of at least 8 characters.",
        "zh": "{name} 需要至少 8 个字符的密码。",
    },
    # choices
    "c_language_auto": {"en": "Follow each user's language", "zh": "跟随每位用户的语言"},
    "c_language_en": {"en": "English", "zh": "英语"},
    "c_language_zh": {"en": "Simplified Chinese", "zh": "简体中文"},
}

# Setting labels and help in Chinese; English comes from the Setting itself.
SETTING_TEXTS: dict[str, dict[str, str]] = {
    "image_model": {
        "label": "绘图模型",
        "help": "/image 使用的绘图模型，按图片服务器的名称填写，例如 gpt-image-1 或本地 stable-diffusion 模型的名称。",
    },
    "image_size": {
        "label": "图片尺寸",
        "help": "宽x高（像素），或 auto；每次请求都会发送。OpenAI 的 GPT 图片模型支持 1024x1024、1536x1024 和 1024x1536。",
    },
    "image_quality": {"label": "图片质量", "help": "质量越高，每张图片越贵，也越慢。"},
    "image_base_url": {
        "label": "图片服务器地址",
        "help": "留空：使用上面的模型服务器。也可以填写其他服务器，例如 http://192.168.1.10:8080/v1 上的 LocalAI 或 stable-diffusion.cpp。",
    },
    "image_api_key": {
        "label": "图片服务器 API 密钥",
        "help": "留空：使用模型服务器的密钥（仅当图片服务器就是模型服务器时）。",
    },
    "daily_images": {
        "label": "每日图片数",
        "help": "每人每天最多可生成的图片数；0 表示不限制。管理员不受限制。",
    },
    "webchat_users": {
        "label": "网页聊天账号",
        "help": "可以使用 /chat 网页聊天的人，每人一个名称和至少 8 个字符的密码（只保存加盐哈希）。管理员始终可以使用。"
        "环境变量中为用逗号分隔的 名称:密码。",
    },
    "export_dir": {
        "label": "导出文件夹",
        "help": "/export 把对话保存为 Markdown 文件的文件夹，每位用户一个子文件夹。在 DSM 上应为本套件可写入的共享文件夹"
        "（例如 /volume1/chat-exports）；留空则只在 Chat 中发送文件。",
    },
    "access": {"label": "谁可以聊天", "help": "所有能联系到机器人的人，或只有允许列表中的用户和管理员。"},
    "allowed_users": {
        "label": "允许列表",
        "help": "Chat 用户 ID 或用户名，用逗号或换行分隔。/whoami 可查看用户 ID；用户名可以修改，所以 ID 更可靠。",
    },
    "blocked_users": {
        "label": "屏蔽列表",
        "help": "不能使用机器人的 Chat 用户 ID 或用户名，即使设置为所有人可用。",
    },
    "admin_users": {
        "label": "管理员",
        "help": "可以使用 /model、/persona、/pause 和 /resume，且不受限额限制的 Chat 用户 ID 或用户名。",
    },
    "paused": {"label": "已暂停", "help": "暂停时只回答管理员，其他人会收到提示。/pause 和 /resume 可切换。"},
    "min_interval": {"label": "提问间隔（秒）", "help": "同一个人两次提问之间的最短时间；0 表示不限制。"},
    "questions_per_minute": {
        "label": "每分钟提问数",
        "help": "同一个人在任意 60 秒内最多可提的问题数；0 表示不限制。",
    },
    "daily_tokens": {
        "label": "每日 token 额度",
        "help": "每人每天可使用的 token（问题、历史和回答），从午夜起计算；0 表示不限制。下方的用户表可为个人单独设置。",
    },
    "monthly_tokens": {"label": "每月 token 额度", "help": "每人每个自然月可使用的 token；0 表示不限制。"},
    "openai_base_url": {
        "label": "模型服务器 URL",
        "help": "OpenAI 兼容服务器的地址，例如 Ollama 为 http://192.168.1.10:11434/v1，DeepSeek 为 https://api.deepseek.com。",
    },
    "openai_api_key": {
        "label": "API 密钥",
        "help": "模型服务器的 API 密钥。本地服务器（Ollama、LM Studio、llama.cpp）不需要。",
    },
    "model": {
        "label": "模型",
        "help": "服务器上的模型名称，例如 qwen2.5:7b 或 deepseek-v4-flash。“echo”是内置模型，会原样重复问题，用于测试 Chat 连接。",
    },
    "temperature": {
        "label": "温度",
        "help": "采样温度，0 到 2：越低越专注，越高越多样。留空则使用服务器默认值；OpenAI 的推理模型只接受默认值。",
    },
    "system_prompt": {"label": "系统提示词", "help": "每次对话前发送给模型的指令。"},
    "context_tokens": {
        "label": "上下文预算（token）",
        "help": "系统提示词、历史和问题的 token 预算。超出时丢弃最早的对话；请保持在模型的上下文窗口以内。",
    },
    "request_timeout": {
        "label": "模型超时（秒）",
        "help": "等待模型开始或继续回答的秒数。NAS CPU 上的本地模型可能较慢：默认允许五分钟无输出。",
    },
    "answer_timeout": {
        "label": "最长回答时间（秒）",
        "help": "一个回答总共可用的秒数，无论模型写得多稳定。到时已收到的内容会发出，并注明已被截断。",
    },
    "max_answer_chars": {
        "label": "最长回答（字符）",
        "help": "一个回答最多的字符数；模型接受时也会请求不超过这么多 token。更长的回答在此截断并注明。",
    },
    "delivery_retry_hours": {
        "label": "持续尝试投递（小时）",
        "help": "无法发出的回答（NAS 重启、Chat 停止）会以逐渐变长的间隔重试多久，重启后继续，之后才放弃。",
    },
    "max_retries": {"label": "模型重试次数", "help": "遇到限流、服务器错误或超时时，模型调用的重试次数。"},
    "proxy": {"label": "代理", "help": "访问模型服务器时使用的 HTTP(S) 代理，例如 http://192.168.1.2:3128。"},
    "partial_replies": {
        "label": "长回答边写边分段发送",
        "help": "模型较慢时，写完的段落会立即发到 Synology Chat、QQ 和钉钉，代码块不会被截断。关闭后只发送完整的回答。",
    },
    "min_part_chars": {
        "label": "最小分段（字符）",
        "help": "回答的一部分至少达到这个长度并结束一个段落，才会先于其余部分发出。QQ 有自己的设置。",
    },
    "thinking_notice_seconds": {
        "label": "“思考中”提示（秒）",
        "help": "回答过了这么久仍没有可发送的部分时，机器人说一次模型较慢、回答随后就到。0 表示从不提示。QQ 有自己的设置。",
    },
    "strip_thinking": {
        "label": "隐藏模型的推理过程",
        "help": "从回复中删除 <think>…</think> 推理内容（DeepSeek-R1、Qwen3 等）。",
    },
    "language": {"label": "机器人语言", "help": "机器人自身消息的语言：“自动”跟随每位用户的书写语言。"},
    "admin_password": {
        "label": "管理员密码",
        "help": "设置页面的密码（至少 8 个字符），只保存加盐哈希。未设置时，首次访问需要输入日志中打印的设置码。",
    },
}

# Texts the page's script shows; they go into the page as JSON.
SCRIPT_KEYS = (
    "testing", "model_ok", "models_found", "chat_ok", "qq_ok", "dt_ok_token", "copied", "copy_failed", "request_failed",
    "no_webhooks", "bad_user_id",
)  # fmt: skip


class _Problem(Protocol):
    ok: bool
    kind: str
    status: int | None
    detail: str


def from_accept_language(header: str) -> str:
    """The first supported language in a browser's Accept-Language, by its q order."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            traditional = any(mark in tag for mark in ("hant", "-tw", "-hk", "-mo"))
            return "zh-Hant" if traditional else "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def __call__(self, key: str, **params: Any) -> str:
        text = _lookup(key, self.lang)
        try:
            return text.format(**params) if params else text
        except (KeyError, IndexError):
            return text

    def _setting_text(self, setting: Setting, field: str, english: str) -> str:
        if self.lang == "en":
            return english
        for lang, label, help_text in setting.words:  # a platform's setting brings its own
            if lang == self.lang:
                return label if field == "label" else help_text
        text = SETTING_TEXTS.get(setting.name, {}).get(field, english)
        return pagetext_hant.convert_setting(setting.name, field, text) if self.lang == "zh-Hant" else text

    def label(self, setting: Setting) -> str:
        return self._setting_text(setting, "label", setting.label or setting.name)

    def help(self, setting: Setting) -> str:
        return self._setting_text(setting, "help", setting.help)

    def choice(self, setting: Setting, value: str) -> str:
        key = f"c_{setting.name}_{value}"
        return self(key) if has(key) else value

    def tail(self, setting: Setting, value: Any) -> str:
        # Chat's URLs end in the token's closing quote (%22): the four characters before it
        # are the ones that tell two tokens apart.
        text = str(value or "").removesuffix("%22").rstrip('"')
        return text[-4:] if len(text) >= 12 and setting.kind != "password" else "****"

    def typed(self, setting: Setting, value: Any) -> str:
        """A value as its field holds it (300, not 300.0); the same in every language."""
        return typed(setting, value)

    def shown(self, setting: Setting, value: Any) -> str:
        """A value as the page may show it: secrets masked, in the reader's language."""
        if setting.kind in ("channels", "tokens", "accounts"):
            return self._listed(setting, value)
        if setting.secret:
            if not value:
                return self("secret_unset")
            return self("secret_set", tail=self.tail(setting, value))
        if setting.kind == "bool":
            return self("yes") if value else self("no")
        text = masked(setting, value)
        return self("not_set") if text == "(not set)" else text

    def _listed(self, setting: Setting, value: Any) -> str:
        if not value:
            return self("not_set")
        if setting.kind == "channels":
            return ", ".join(c.name for c in value)
        if setting.kind == "accounts":
            return ", ".join(a["name"] for a in value)
        return ", ".join("…" + v[-4:] for v in value)

    def problem(self, exc: Invalid) -> str:
        return self("p_" + exc.key, **exc.params)

    def language_name(self, code: str) -> str:
        return NAMES.get(code, code)

    def script_texts(self) -> str:
        """JSON for a <script type="application/json"> block: '<' escaped so no text can end it."""
        return json.dumps({key: self(key) for key in SCRIPT_KEYS}, ensure_ascii=False).replace("<", "\\u003c")


def has(key: str) -> bool:
    """Whether the page has words for a key: the core's here, or a platform's (its folder's)."""
    return key in TEXTS or key in registry.TEXTS


def _lookup(key: str, lang: str) -> str:
    entry = TEXTS.get(key)
    if entry is None:
        platform = registry.TEXTS.get(key)
        return (platform.get(lang) or platform["en"]) if platform else key
    if lang == "zh-Hant":
        return pagetext_hant.TEXTS.get(key) or entry["zh"]
    return entry.get(lang) or entry["en"]


def error_kind(t: Translator, kind: str) -> str:
    """An error's kind in words for the page, or nothing for a kind without them."""
    return t(f"ek_{kind}") if has(f"ek_{kind}") else ""


def model_error(t: Translator, result: _Problem) -> str:
    key = f"me_{result.kind}"
    sentence = t(key, status=result.status or "", detail=result.detail) if has(key) else result.detail
    return sentence.strip()


def chat_error(t: Translator, result: _Problem) -> str:
    key = f"ce_{result.kind}"
    return (t(key, detail=result.detail) if has(key) else result.detail).strip()
