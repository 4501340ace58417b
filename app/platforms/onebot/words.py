"""QQ's words on the settings page, in English, Simplified and Traditional Chinese: its
section, guide and test, its settings' labels and help, what its events and errors mean. The
page reads them through the registry (platforms/registry.py)."""

from __future__ import annotations

# key: {"en", "zh", "zh-Hant"}
TEXTS: dict[str, dict[str, str]] = {
    "g_qq": {"en": "QQ (OneBot v11)", "zh": "QQ（OneBot v11）", "zh-Hant": "QQ（OneBot v11）"},
    "src_qq": {"en": "QQ", "zh": "QQ", "zh-Hant": "QQ"},
    "st_qq": {"en": "QQ (OneBot)", "zh": "QQ（OneBot）", "zh-Hant": "QQ（OneBot）"},
    "qq_event_url": {
        "en": "Event URL for NapCat's HTTP client",
        "zh": "NapCat HTTP 客户端的上报地址",
        "zh-Hant": "NapCat HTTP 客戶端的上報位址",
    },
    "qq_event_help": {
        "en": "Use the address NapCat reaches this server at: in Docker, the NAS's LAN address "
        "rather than localhost.",
        "zh": "请使用 NapCat 能访问到本服务器的地址：在 Docker 中请用 NAS 的局域网地址，而不是 localhost。",
        "zh-Hant": "請使用 NapCat 能存取到本伺服器的位址：在 Docker 中請用 NAS 的區域網路位址，而不是 localhost。",
    },
    "qq_guide_1": {
        "en": "Open NapCat's WebUI (port 6099) and log in to the QQ account the bot will use.",
        "zh": "打开 NapCat 的 WebUI（端口 6099），登录机器人要使用的 QQ 账号。",
        "zh-Hant": "打開 NapCat 的 WebUI（埠 6099），登入機器人要使用的 QQ 帳號。",
    },
    "qq_guide_2": {
        "en": "Network configuration (网络配置) → New (新建) → HTTP server (HTTP服务器): Host 127.0.0.1 (or the LAN address), Port 3000, and a Token (keep the random one it offers, or paste a long one). Turn on Enable (启用) and Save (保存). Put its address in OneBot API URL and its Token in OneBot API token.",
        "zh": "网络配置 → 新建 → HTTP服务器：Host 填 127.0.0.1（或局域网地址），Port 填 3000，Token 保留它随机生成的值或填一个很长的随机字符串，打开“启用”，点“保存”。把它的地址填入“OneBot API 地址”，Token 填入“OneBot API 令牌”。",
        "zh-Hant": "「网络配置」→「新建」→「HTTP服务器」（NapCat 的介面是簡體中文）：Host 填 127.0.0.1（或區域網路位址），Port 填 3000，Token 保留它隨機產生的值或填入一段很長的隨機字串，開啟「启用」，按「保存」。把它的位址填入「OneBot API 位址」，Token 填入「OneBot API Token」。",
    },
    "qq_guide_3": {
        "en": "New (新建) → HTTP client (HTTP客户端): URL the event URL above, message format (消息格式) Array, and another Token. Turn on Enable (启用) and Save (保存). Put that Token in Event secret.",
        "zh": "新建 → HTTP客户端：URL 填上面的上报地址，消息格式选 Array，Token 用另一个很长的随机字符串，打开“启用”，点“保存”。把这个 Token 填入“事件密钥”。",
        "zh-Hant": "「新建」→「HTTP客户端」：URL 填上面的上報位址，「消息格式」選 Array，Token 用另一段很長的隨機字串，開啟「启用」，按「保存」。把這個 Token 填入「事件金鑰」。",
    },
    "qq_guide_4": {
        "en": "Save here, then send a test message to your own QQ number.",
        "zh": "在这里保存，然后向你自己的 QQ 号发送一条测试消息。",
        "zh-Hant": "在這裡儲存，然後向你自己的 QQ 號傳送一則測試訊息。",
    },
    "qq_guide_5": {
        "en": "Chat with the bot privately, or in a group with @bot or /gpt before the question. "
        "Admins and lists take QQ people as qq:<number>.",
        "zh": "私聊机器人，或在群里用 @机器人 或在问题前加 /gpt。管理员和名单中的 QQ 用户写作 qq:<QQ号>。",
        "zh-Hant": "私訊機器人，或在群組裡用 @機器人 或在問題前加 /gpt。管理員和名單中的 QQ 使用者寫作 qq:<QQ號>。",
    },
    "qq_warning": {
        "en": "Never expose NapCat's HTTP server to the internet, and always set both tokens: open "
        "OneBot endpoints were hijacked in 2025 to post illicit content.",
        "zh": "切勿把 NapCat 的 HTTP 服务器暴露到互联网，并且两个 token 都要设置：2025 年曾有公开的 OneBot "
        "端口被劫持用来发布违法内容。",
        "zh-Hant": "切勿把 NapCat 的 HTTP 伺服器暴露到網際網路，並且兩個 token 都要設定：2025 年曾有公開的 OneBot "
        "埠被劫持用來發布違法內容。",
    },
    "qq_test_target": {"en": "Send a test message to", "zh": "发送测试消息到", "zh-Hant": "傳送測試訊息到"},
    "qq_private": {"en": "QQ number", "zh": "QQ 号", "zh-Hant": "QQ 號"},
    "qq_group": {"en": "group number", "zh": "群号", "zh-Hant": "群號"},
    "qq_test_button": {"en": "Send test message", "zh": "发送测试消息", "zh-Hant": "傳送測試訊息"},
    "qq_test_help": {
        "en": "Uses the values in the form above, saved or not; shows NapCat's exact answer.",
        "zh": "使用上面表单中的值（无论是否已保存），并显示 NapCat 的原始响应。",
        "zh-Hant": "使用上面表單中的值（無論是否已儲存），並顯示 NapCat 的原始回應。",
    },
    "qq_bad_target": {
        "en": "Enter a QQ number or a group number (digits only).",
        "zh": "请输入 QQ 号或群号（仅数字）。",
        "zh-Hant": "請輸入 QQ 號或群號（僅數字）。",
    },
    "qq_ok": {
        "en": "NapCat accepted the message. Its answer:",
        "zh": "NapCat 已接受消息。它的响应：",
        "zh-Hant": "NapCat 已接受訊息。它的回應：",
    },
    "p_qq_token_chars": {
        "en": "Only letters, digits and ASCII punctuation, without spaces, as in NapCat's tokens (at most 200).",
        "zh": "只能包含字母、数字和英文标点，不能有空格，与 NapCat 的 token 一样（最多 200 个）。",
        "zh-Hant": "只能包含字母、數字和英文標點，不能有空格，與 NapCat 的 token 一樣（最多 200 個）。",
    },
    # what a QQ test or delivery failure means (kinds from wire.OneBotError)
    "ce_qq_no_url": {
        "en": "Set OneBot API URL first.",
        "zh": "请先设置“OneBot API 地址”。",
        "zh-Hant": "請先設定「OneBot API 位址」。",
    },
    "ce_qq_token": {
        "en": "NapCat refused the token ({detail}). OneBot API token must be the token of NapCat's "
        "HTTP server.",
        "zh": "NapCat 拒绝了 token（{detail}）。“OneBot API 令牌”必须是 NapCat HTTP 服务器的 token。",
        "zh-Hant": "NapCat 拒絕了 token（{detail}）。「OneBot API Token」必須是 NapCat HTTP 伺服器的 Token。",
    },
    "ce_qq_risk": {
        "en": "QQ refused to send this message; it may be blocked as spam ({detail}). Send fewer, "
        "shorter messages, or wait before trying again.",
        "zh": "QQ 拒绝发送这条消息，可能被当作垃圾消息拦截（{detail}）。请减少、缩短消息，或稍后再试。",
        "zh-Hant": "QQ 拒絕傳送這則訊息，可能被當作垃圾訊息攔截（{detail}）。請減少、縮短訊息，或稍後再試。",
    },
    "ce_qq_failed": {
        "en": "NapCat could not send the message ({detail}). Is the number right, and is the bot a "
        "friend of that person or a member of that group? If so, QQ may be holding the bot's "
        "messages back as spam.",
        "zh": "NapCat 无法发送消息（{detail}）。号码正确吗？机器人是否是对方的好友或该群的成员？"
        "如果是，QQ 可能把机器人的消息当作垃圾消息拦截了。",
        "zh-Hant": "NapCat 無法傳送訊息（{detail}）。號碼正確嗎？機器人是否是對方的好友或該群組的成員？"
        "如果是，QQ 可能把機器人的訊息當作垃圾訊息攔截了。",
    },
    "ce_qq_unreachable": {
        "en": "Cannot reach the OneBot API ({detail}). Is NapCat running, with its HTTP server "
        "enabled at that address and port?",
        "zh": "无法连接 OneBot API（{detail}）。NapCat 是否在运行，HTTP 服务器是否已在该地址和端口启用？",
        "zh-Hant": "無法連線 OneBot API（{detail}）。NapCat 是否在執行，HTTP 伺服器是否已在該位址和埠啟用？",
    },
    "ce_qq_timeout": {
        "en": "NapCat did not answer in time. The message may still arrive.",
        "zh": "NapCat 未及时响应，消息可能仍会送达。",
        "zh-Hant": "NapCat 未及時回應，訊息可能仍會送達。",
    },
    "ce_qq_http": {
        "en": "The OneBot API gave an unexpected answer: {detail}",
        "zh": "OneBot API 的响应不符合预期：{detail}",
        "zh-Hant": "OneBot API 的回應不符合預期：{detail}",
    },
    # what became of an event, for the list of recent webhooks
    "wh_qq_no_secret": {
        "en": "refused: Event secret is not set",
        "zh": "已拒绝：未设置事件密钥",
        "zh-Hant": "已拒絕：未設定事件金鑰",
    },
    "wh_qq_no_signature": {
        "en": "refused: the event is not signed (set the HTTP client's token in NapCat)",
        "zh": "已拒绝：事件没有签名（请在 NapCat 中设置 HTTP 客户端的 token）",
        "zh-Hant": "已拒絕：事件沒有簽名（請在 NapCat 中設定 HTTP 客戶端的 token）",
    },
    "wh_qq_bad_signature": {
        "en": "refused: wrong signature (Event secret differs from NapCat's HTTP client token)",
        "zh": "已拒绝：签名错误（事件密钥与 NapCat HTTP 客户端的 token 不同）",
        "zh-Hant": "已拒絕：簽名錯誤（事件金鑰與 NapCat HTTP 客戶端的 Token 不同）",
    },
    "wh_qq_own": {
        "en": "ignored: the bot's own message",
        "zh": "已忽略：机器人自己的消息",
        "zh-Hant": "已忽略：機器人自己的訊息",
    },
    "wh_qq_not_message": {
        "en": "ignored: not a message",
        "zh": "已忽略：不是消息",
        "zh-Hant": "已忽略：不是訊息",
    },
    # which event it was, or what was wrong with one the bot could not read
    "whd_qq_notice": {
        "en": "a notice (a friend added, a message recalled, …)",
        "zh": "通知事件（添加好友、撤回消息等）",
        "zh-Hant": "通知事件（新增好友、收回訊息等）",
    },
    "whd_qq_request": {
        "en": "a request (to be friends, to join a group)",
        "zh": "请求事件（加好友、加群）",
        "zh-Hant": "請求事件（加好友、加入群組）",
    },
    "whd_qq_meta_event": {
        "en": "a meta event (the connection's life cycle)",
        "zh": "元事件（连接的生命周期）",
        "zh-Hant": "元事件（連線的生命週期）",
    },
    "whd_qq_event": {
        "en": "an event of type {type}",
        "zh": "类型为 {type} 的事件",
        "zh-Hant": "類型為 {type} 的事件",
    },
    "whd_qq_message": {
        "en": "message must be a segment array or a string",
        "zh": "message 必须是消息段数组或字符串",
        "zh-Hant": "message 必須是訊息段陣列或字串",
    },
    "whd_qq_segments": {
        "en": "the message has more than {count} segments",
        "zh": "消息超过 {count} 个消息段",
        "zh-Hant": "訊息超過 {count} 個訊息段",
    },
    "whd_qq_segment": {
        "en": "a message segment is not an object with a type",
        "zh": "某个消息段不是带 type 的对象",
        "zh-Hant": "某個訊息段不是帶 type 的物件",
    },
}

SETTING_WORDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "onebot_api_url": (
        (
            "zh",
            "OneBot API 地址",
            "NapCat（或其他 OneBot v11 实现）的 HTTP API，从本服务器访问的地址，例如 "
            "http://127.0.0.1:3000。请只放在本机或局域网。",
        ),
        (
            "zh-Hant",
            "OneBot API 位址",
            "NapCat（或其他 OneBot v11 實作）的 HTTP API，從本伺服器存取的位址，例如 "
            "http://127.0.0.1:3000。請只放在本機或區域網路。",
        ),
    ),
    "onebot_access_token": (
        ("zh", "OneBot API 令牌", "NapCat HTTP 服务器的 token，每次调用都以 Authorization: Bearer 发送。"),
        (
            "zh-Hant",
            "OneBot API Token",
            "NapCat HTTP 伺服器的 Token，每次呼叫都以 Authorization: Bearer 傳送。",
        ),
    ),
    "onebot_secret": (
        (
            "zh",
            "事件密钥",
            "NapCat HTTP 客户端的 token，用来为上报到这里的每个事件签名（X-Signature）。未设置时不接受任何 QQ 事件。",
        ),
        (
            "zh-Hant",
            "事件金鑰",
            "NapCat HTTP 客戶端的 Token，用來為上報到這裡的每個事件簽名（X-Signature）。未設定時不接受任何 QQ 事件。",
        ),
    ),
    "onebot_prefixes": (
        (
            "zh",
            "群聊前缀",
            "在群里，机器人回答 @它 的消息，或以这些前缀开头的消息（前缀会从问题中去掉）。用逗号分隔；留空则只回答 @。",
        ),
        (
            "zh-Hant",
            "群組前綴",
            "在群組裡，機器人回答 @它 的訊息，或以這些前綴開頭的訊息（前綴會從問題中去掉）。用逗號分隔；留空則只回答 @。",
        ),
    ),
    "onebot_group_context": (
        ("zh", "群聊对话", "shared：每个群一个对话，模型会知道是谁在提问；per_user：每个成员各自一个对话。"),
        (
            "zh-Hant",
            "群組對話",
            "shared：每個群組一個對話，模型會知道是誰在提問；per_user：每個成員各自一個對話。",
        ),
    ),
    "onebot_probability": (
        ("zh", "随机回复", "机器人回答未指向它的群消息的概率，0 到 1。0：从不。"),
        ("zh-Hant", "隨機回覆", "機器人回答未指向它的群組訊息的機率，0 到 1。0：從不。"),
    ),
    "onebot_part_chars": (
        (
            "zh",
            "QQ 单条消息最大长度（字符）",
            "更长的回答会分成多条发送。QQ 的风控会拦截长消息，新账号最先受影响。",
        ),
        (
            "zh-Hant",
            "QQ 單則訊息最大長度（字元）",
            "更長的回答會分成多則傳送。QQ 的風控會攔截長訊息，新帳號最先受影響。",
        ),
    ),
    "onebot_send_interval": (
        (
            "zh",
            "QQ 消息间隔（秒）",
            "机器人发送两条消息之间的最短间隔。低于 1 秒时 QQ 可能把机器人当作垃圾消息发送者。",
        ),
        (
            "zh-Hant",
            "QQ 訊息間隔（秒）",
            "機器人傳送兩則訊息之間的最短間隔。低於 1 秒時 QQ 可能把機器人當作垃圾訊息傳送者。",
        ),
    ),
    "onebot_min_part_chars": (
        (
            "zh",
            "QQ 最小分段（字符）",
            "开启分段回复时，回答的一部分至少达到这个长度并结束一个段落，才会先发到 QQ。消息越少，越不容易触发 QQ 的风控。",
        ),
        (
            "zh-Hant",
            "QQ 最小分段（字元）",
            "開啟分段回覆時，回答的一部分至少達到這個長度並結束一個段落，才會先傳到 QQ。訊息越少，越不容易觸發 QQ 的風控。",
        ),
    ),
    "onebot_thinking_notice_seconds": (
        (
            "zh",
            "QQ“思考中”提示（秒）",
            "回答过了这么久仍没有可发送的部分时，机器人在 QQ 中说一次模型较慢、回答随后就到。0 表示从不提示。",
        ),
        (
            "zh-Hant",
            "QQ「思考中」提示（秒）",
            "回答過了這麼久仍沒有可傳送的部分時，機器人在 QQ 中說一次模型較慢、回答隨後就到。0 表示從不提示。",
        ),
    ),
}
