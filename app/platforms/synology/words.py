"""Synology Chat's words on the settings page, in English, Simplified and Traditional Chinese:
its sections, its settings' labels and help, and its settings' problems. The page reads them
through the registry (platforms/registry.py), so a platform's words live in its folder."""

from __future__ import annotations

# key: {"en", "zh", "zh-Hant"}, as pagetext.TEXTS and pagetext_hant.TEXTS together.
TEXTS: dict[str, dict[str, str]] = {
    "g_chat": {
        "en": "Synology Chat",
        "zh": "Synology Chat",
        "zh-Hant": "Synology Chat",
    },
    "g_channels": {
        "en": "Channels and slash commands",
        "zh": "频道与斜杠命令",
        "zh-Hant": "頻道與斜線指令",
    },
    "p_url_incoming": {
        "en": "This is a channel's incoming-webhook URL (method=incoming). Paste the bot's incoming URL, which contains method=chatbot.",
        "zh": "这是频道的传入 Webhook URL（method=incoming）。请粘贴机器人的传入 URL，其中包含 method=chatbot。",
        "zh-Hant": "這是頻道的傳入 Webhook URL（method=incoming）。請貼上機器人的傳入 URL，其中包含 method=chatbot。",
    },
    "p_url_chatbot": {
        "en": "Paste the bot's incoming URL exactly as Chat shows it, with method=chatbot and token=….",
        "zh": "请按 Chat 显示的原样粘贴机器人的传入 URL，其中包含 method=chatbot 和 token=…。",
        "zh-Hant": "請按 Chat 顯示的原樣貼上機器人的傳入 URL，其中包含 method=chatbot 和 token=…。",
    },
    "p_ch_json": {
        "en": "Must be a JSON list of channels with name, outgoing_token and incoming_url.",
        "zh": "必须是 JSON 频道列表，每项包含 name、outgoing_token 和 incoming_url。",
        "zh-Hant": "必須是 JSON 頻道列表，每項包含 name、outgoing_token 和 incoming_url。",
    },
    "p_ch_count": {
        "en": "At most {max} channels.",
        "zh": "最多 {max} 个频道。",
        "zh-Hant": "最多 {max} 個頻道。",
    },
    "p_ch_name": {
        "en": "Channel {n} needs a name.",
        "zh": "第 {n} 个频道需要名称。",
        "zh-Hant": "第 {n} 個頻道需要名稱。",
    },
    "p_ch_name_long": {
        "en": "The name {name} is longer than 64 characters.",
        "zh": "名称 {name} 超过 64 个字符。",
        "zh-Hant": "名稱 {name} 超過 64 個字元。",
    },
    "p_ch_token": {
        "en": "Channel {name} needs its outgoing webhook's token.",
        "zh": "频道 {name} 需要其传出 Webhook 的令牌。",
        "zh-Hant": "頻道 {name} 需要其傳出 Webhook 的令牌。",
    },
    "p_ch_url": {
        "en": "Channel {name} needs the channel's incoming webhook URL, with method=incoming and token=….",
        "zh": "频道 {name} 需要该频道的传入 Webhook URL（含 method=incoming 和 token=…）。",
        "zh-Hant": "頻道 {name} 需要該頻道的傳入 Webhook URL（含 method=incoming 和 token=…）。",
    },
    "p_ch_url_bot": {
        "en": "Channel {name}: this is the bot's incoming URL (method=chatbot). Paste the channel's incoming webhook URL, which contains method=incoming (the bot's URL goes in Bot incoming URL).",
        "zh": "频道 {name}：这是机器人的传入 URL（method=chatbot）。请粘贴该频道的传入 Webhook URL，其中包含 method=incoming（机器人的 URL 应填在“机器人传入 URL”）。",
        "zh-Hant": "頻道 {name}：這是機器人的傳入 URL（method=chatbot）。請貼上該頻道的傳入 Webhook URL，其中包含 method=incoming（機器人的 URL 應填在「機器人傳入 URL」）。",
    },
    "p_ch_context": {
        "en": "Channel {name}: choose a conversation type.",
        "zh": "频道 {name}：请选择对话方式。",
        "zh-Hant": "頻道 {name}：請選擇對話方式。",
    },
    "p_ch_triggers": {
        "en": "Channel {name}: trigger words are single words, at most 20, of up to 40 characters.",
        "zh": "频道 {name}：触发词须为单个词，最多 20 个，每个不超过 40 个字符。",
        "zh-Hant": "頻道 {name}：觸發詞須為單個詞，最多 20 個，每個不超過 40 個字元。",
    },
    "p_ch_same_name": {
        "en": "Two channels are called {name}.",
        "zh": "有两个频道都叫 {name}。",
        "zh-Hant": "有兩個頻道都叫 {name}。",
    },
    "p_ch_same_token": {
        "en": "Channel {name} has the same outgoing token as another channel.",
        "zh": "频道 {name} 的传出令牌与另一个频道相同。",
        "zh-Hant": "頻道 {name} 的傳出令牌與另一個頻道相同。",
    },
    # what the parser found wrong with a refused webhook
    "whd_chat_form": {
        "en": "unsupported content type {kind}; Chat sends a form",
        "zh": "不支持的内容类型 {kind}；Chat 发送的是表单",
        "zh-Hant": "不支援的內容類型 {kind}；Chat 傳送的是表單",
    },
}

# A setting's (language, label, help) for each language but English, which its declaration holds.
SETTING_WORDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "bot_incoming_url": (
        (
            "zh",
            "机器人传入 URL",
            "Synology Chat 显示的机器人传入 URL（整合 > 机器人），包含 method=chatbot 和机器人的 token。",
        ),
        (
            "zh-Hant",
            "機器人傳入 URL",
            "Synology Chat 顯示的機器人傳入 URL（整合 > 機器人），包含 method=chatbot 和機器人的 token。",
        ),
    ),
    "bot_token": (
        ("zh", "机器人 token", "机器人的 token。留空时从传入 URL 中获取。"),
        ("zh-Hant", "機器人 token", "機器人的 token。留空時從傳入 URL 中獲取。"),
    ),
    "tls_verify": (
        (
            "zh",
            "验证 NAS 的 HTTPS 证书",
            "向 Synology Chat 发送时检查 NAS 的 HTTPS 证书。仅在可信网络中使用自签名证书的 NAS 上关闭；更推荐设置 CA 证书文件。",
        ),
        (
            "zh-Hant",
            "驗證 NAS 的 HTTPS 證書",
            "向 Synology Chat 傳送時檢查 NAS 的 HTTPS 證書。僅在可信網路中使用自簽名證書的 NAS 上關閉；更推薦設定 CA 證書檔案。",
        ),
    ),
    "ca_bundle": (
        ("zh", "CA 证书文件", "签发 NAS 证书的证书颁发机构的 PEM 文件。"),
        ("zh-Hant", "CA 證書檔案", "簽發 NAS 證書的證書頒發機構的 PEM 檔案。"),
    ),
    "channels": (
        (
            "zh",
            "频道",
            '机器人回答的频道：每个频道需要一个传出 Webhook（其令牌）和该频道的传入 Webhook（其 URL，含 method=incoming）。环境变量中为 JSON 列表：[{"name": "team", "outgoing_token": "…", "incoming_url": "…", "context": "shared", "triggers": ["@ai"]}]。',
        ),
        (
            "zh-Hant",
            "頻道",
            '機器人回答的頻道：每個頻道需要一個傳出 Webhook（其令牌）和該頻道的傳入 Webhook（其 URL，含 method=incoming）。環境變數中為 JSON 列表：[{"name": "team", "outgoing_token": "…", "incoming_url": "…", "context": "shared", "triggers": ["@ai"]}]。',
        ),
    ),
    "slash_tokens": (
        (
            "zh",
            "斜杠命令令牌",
            "指向本服务器的每个 Synology Chat 斜杠命令（例如 /ask）的令牌。环境变量中用逗号分隔。",
        ),
        (
            "zh-Hant",
            "斜線指令令牌",
            "指向本伺服器的每個 Synology Chat 斜線指令（例如 /ask）的令牌。環境變數中用逗號分隔。",
        ),
    ),
}
