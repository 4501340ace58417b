"""DingTalk's words on the settings page, in English, Simplified and Traditional Chinese: its
section, guide, connection status and test, its settings' labels and help, what its messages
and errors mean. The page reads them through the registry (platforms/registry.py)."""

from __future__ import annotations

# key: {"en", "zh", "zh-Hant"}
TEXTS: dict[str, dict[str, str]] = {
    "g_dingtalk": {"en": "DingTalk", "zh": "钉钉", "zh-Hant": "釘釘"},
    "src_dingtalk": {"en": "DingTalk", "zh": "钉钉", "zh-Hant": "釘釘"},
    "st_dingtalk": {"en": "DingTalk", "zh": "钉钉", "zh-Hant": "釘釘"},
    "dt_state_off": {"en": "not set", "zh": "未设置", "zh-Hant": "未設定"},
    "dt_state_http": {
        "en": "HTTP mode: waiting for callbacks",
        "zh": "HTTP 模式：等待回调",
        "zh-Hant": "HTTP 模式：等待回呼",
    },
    "dt_state_connecting": {"en": "connecting…", "zh": "正在连接…", "zh-Hant": "正在連線…"},
    "dt_state_connected": {
        "en": "connected since {since}",
        "zh": "已连接，自 {since} 起",
        "zh-Hant": "已連線，自 {since} 起",
    },
    "dt_state_waiting": {
        "en": "not connected: trying again at {at}",
        "zh": "未连接：将于 {at} 重试",
        "zh-Hant": "未連線：將於 {at} 重試",
    },
    "dt_last_error": {
        "en": "Last problem: {error}",
        "zh": "最近的问题：{error}",
        "zh-Hant": "最近的問題：{error}",
    },
    "dt_callback_url": {
        "en": "Message receiving address (HTTP mode only)",
        "zh": "消息接收地址（仅 HTTP 模式）",
        "zh-Hant": "訊息接收位址（僅 HTTP 模式）",
    },
    "dt_callback_help": {
        "en": "DingTalk must reach it from the internet over HTTPS: put this server behind your reverse proxy and use the proxy's public address with /dingtalk. Stream mode needs none of this.",
        "zh": "钉钉必须能从互联网通过 HTTPS 访问它：请把本服务器放在反向代理之后，使用代理的公网地址加 /dingtalk。Stream 模式完全不需要这些。",
        "zh-Hant": "釘釘必須能從網際網路透過 HTTPS 存取它：請把本伺服器放在反向代理之後，使用代理的公開位址加 /dingtalk。Stream 模式完全不需要這些。",
    },
    "dt_guide_1": {
        "en": "In DingTalk's developer console (open-dev.dingtalk.com), as an admin of your organisation: App development → Internal apps → Create app.",
        "zh": "以组织管理员身份登录钉钉开发者后台（open-dev.dingtalk.com）：应用开发 → 企业内部应用 → 创建应用。",
        "zh-Hant": "以組織管理員身分登入釘釘開發者後台（open-dev.dingtalk.com）：應用開發 → 企業內部應用 → 建立應用。",
    },
    "dt_guide_2": {
        "en": "Add capability → Robot. In the robot's settings, choose Stream mode for how messages are received (or HTTP mode with the address below), and publish the robot.",
        "zh": "添加应用能力 → 机器人。在机器人配置中，消息接收模式选择 Stream 模式（或使用下面地址的 HTTP 模式），然后发布机器人。",
        "zh-Hant": "新增應用能力 → 機器人。在機器人設定中，訊息接收模式選擇 Stream 模式（或使用下面位址的 HTTP 模式），然後發布機器人。",
    },
    "dt_guide_3": {
        "en": "Credentials & basic info: copy the Client ID (AppKey) and Client Secret (AppSecret) into the fields above, and Save.",
        "zh": "凭证与基础信息：把 Client ID（AppKey）和 Client Secret（AppSecret）复制到上面的输入框，然后保存。",
        "zh-Hant": "憑證與基礎資訊：把 Client ID（AppKey）和 Client Secret（AppSecret）複製到上面的輸入框，然後儲存。",
    },
    "dt_guide_4": {
        "en": "Version management and release: publish a version, so people in your organisation can find the robot.",
        "zh": "版本管理与发布：发布一个版本，组织里的成员才能找到这个机器人。",
        "zh-Hant": "版本管理與發布：發布一個版本，組織裡的成員才能找到這個機器人。",
    },
    "dt_guide_5": {
        "en": "Chat with the robot one to one, or add it to a group (group settings → Robots → Add) and @ it. The status here says connected once Stream mode works.",
        "zh": "与机器人单聊，或把它加入群聊（群设置 → 机器人 → 添加）并 @ 它。Stream 模式正常工作时，这里的状态会显示“已连接”。",
        "zh-Hant": "與機器人單聊，或把它加入群組（群組設定 → 機器人 → 新增）並 @ 它。Stream 模式正常運作時，這裡的狀態會顯示「已連線」。",
    },
    "dt_guide_6": {
        "en": "Admins and lists take DingTalk people as dingtalk:<userId> (the member's userId in the admin console's address book).",
        "zh": "管理员和名单中的钉钉用户写作 dingtalk:<userId>（管理后台通讯录中成员的 userId）。",
        "zh-Hant": "管理員和名單中的釘釘使用者寫作 dingtalk:<userId>（管理後台通訊錄中成員的 userId）。",
    },
    "dt_test_user": {
        "en": "Send a test message to userId",
        "zh": "发送测试消息到 userId",
        "zh-Hant": "傳送測試訊息到 userId",
    },
    "dt_test_button": {"en": "Check DingTalk", "zh": "检查钉钉", "zh-Hant": "檢查釘釘"},
    "dt_test_help": {
        "en": "Tries the Client ID and Secret. With a userId, also sends that member a test message. Unsaved changes above are used.",
        "zh": "检查 Client ID 和 Secret。填写 userId 时，还会给该成员发送一条测试消息。会使用上面尚未保存的修改。",
        "zh-Hant": "檢查 Client ID 和 Secret。填寫 userId 時，還會給該成員傳送一則測試訊息。會使用上面尚未儲存的修改。",
    },
    "dt_bad_user": {
        "en": "A userId is letters, digits, - and _ only.",
        "zh": "userId 只能包含字母、数字、- 和 _。",
        "zh-Hant": "userId 只能包含字母、數字、- 和 _。",
    },
    "dt_ok_token": {
        "en": "The Client ID and Secret work.",
        "zh": "Client ID 和 Secret 有效。",
        "zh-Hant": "Client ID 和 Secret 有效。",
    },
    "dt_ok_sent": {
        "en": "The Client ID and Secret work, and DingTalk took the test message for {user}.",
        "zh": "Client ID 和 Secret 有效，钉钉已接收发给 {user} 的测试消息。",
        "zh-Hant": "Client ID 和 Secret 有效，釘釘已接收發給 {user} 的測試訊息。",
    },
    "p_dingtalk_key_chars": {
        "en": "may hold only letters, digits and ASCII punctuation, without spaces, at most 200",
        "zh": "只能包含字母、数字和 ASCII 标点，不能有空格，最多 200 个字符",
        "zh-Hant": "只能包含字母、數字和 ASCII 標點，不能有空格，最多 200 個字元",
    },
    # What a failed delivery or check means (dashboard errors, the check's result).
    "ce_dingtalk_no_credentials": {
        "en": "Set the Client ID and Client Secret first.",
        "zh": "请先设置 Client ID 和 Client Secret。",
        "zh-Hant": "請先設定 Client ID 和 Client Secret。",
    },
    "ce_dingtalk_secret": {
        "en": "DingTalk refused the Client ID or Client Secret: copy both again from the developer console. {detail}",
        "zh": "钉钉拒绝了 Client ID 或 Client Secret：请从开发者后台重新复制两者。{detail}",
        "zh-Hant": "釘釘拒絕了 Client ID 或 Client Secret：請從開發者後台重新複製兩者。{detail}",
    },
    "ce_dingtalk_token": {
        "en": "DingTalk refused the app's token even after a fresh one. {detail}",
        "zh": "即使换了新令牌，钉钉仍拒绝应用的 access token。{detail}",
        "zh-Hant": "即使換了新權杖，釘釘仍拒絕應用的 access token。{detail}",
    },
    "ce_dingtalk_permission": {
        "en": "The DingTalk app lacks a permission: in the developer console, under Permissions, grant the robot's message permissions (and the file download one for pictures), then publish. {detail}",
        "zh": "钉钉应用缺少权限：请在开发者后台的“权限管理”中开通机器人消息相关权限（读图片还需文件下载权限），然后发布。{detail}",
        "zh-Hant": "釘釘應用缺少權限：請在開發者後台的「權限管理」中開通機器人訊息相關權限（讀圖片還需檔案下載權限），然後發布。{detail}",
    },
    "ce_dingtalk_dns": {
        "en": "DingTalk's address could not be looked up: check the NAS's DNS settings. {detail}",
        "zh": "无法解析钉钉的地址：请检查 NAS 的 DNS 设置。{detail}",
        "zh-Hant": "無法解析釘釘的位址：請檢查 NAS 的 DNS 設定。{detail}",
    },
    "ce_dingtalk_unreachable": {
        "en": "DingTalk cannot be reached: is the NAS online? Answers are kept and sent when it is. {detail}",
        "zh": "无法连接钉钉：NAS 是否联网？回答会保留，联网后再发送。{detail}",
        "zh-Hant": "無法連線釘釘：NAS 是否連網？回答會保留，連網後再傳送。{detail}",
    },
    "ce_dingtalk_timeout": {
        "en": "DingTalk did not answer in time. {detail}",
        "zh": "钉钉没有及时响应。{detail}",
        "zh-Hant": "釘釘沒有及時回應。{detail}",
    },
    "ce_dingtalk_ticket": {
        "en": "DingTalk's Stream gateway refused the connection. {detail}",
        "zh": "钉钉 Stream 网关拒绝了连接。{detail}",
        "zh-Hant": "釘釘 Stream 閘道拒絕了連線。{detail}",
    },
    "ce_dingtalk_dropped": {
        "en": "DingTalk closed the connection; the bot connected again. {detail}",
        "zh": "钉钉关闭了连接；机器人已重新连接。{detail}",
        "zh-Hant": "釘釘關閉了連線；機器人已重新連線。{detail}",
    },
    "ce_dingtalk_too_fast": {
        "en": "DingTalk is holding messages back (more than 20 a minute): the answer is sent when it lets it. {detail}",
        "zh": "钉钉限制了发送频率（每分钟超过 20 条）：允许后再发送回答。{detail}",
        "zh-Hant": "釘釘限制了傳送頻率（每分鐘超過 20 則）：允許後再傳送回答。{detail}",
    },
    "ce_dingtalk_too_long": {
        "en": "DingTalk refused a message as too long. {detail}",
        "zh": "钉钉认为消息过长而拒绝。{detail}",
        "zh-Hant": "釘釘認為訊息過長而拒絕。{detail}",
    },
    "ce_dingtalk_session": {
        "en": "The conversation's reply link is gone. {detail}",
        "zh": "该会话的回复链接已失效。{detail}",
        "zh-Hant": "該會話的回覆連結已失效。{detail}",
    },
    "ce_dingtalk_not_delivered": {
        "en": "DingTalk did not deliver the answer: the person is not a member of the organisation. {detail}",
        "zh": "钉钉没有投递回答：此人不是组织成员。{detail}",
        "zh-Hant": "釘釘沒有投遞回答：此人不是組織成員。{detail}",
    },
    "ce_dingtalk_no_staff": {
        "en": "The answer came after the reply link expired, and DingTalk sends later messages only to members of the organisation. {detail}",
        "zh": "回答在回复链接过期后才生成，而钉钉只允许之后向组织成员发消息。{detail}",
        "zh-Hant": "回答在回覆連結過期後才產生，而釘釘只允許之後向組織成員傳訊息。{detail}",
    },
    "ce_dingtalk_failed": {
        "en": "DingTalk refused the message. {detail}",
        "zh": "钉钉拒绝了这条消息。{detail}",
        "zh-Hant": "釘釘拒絕了這則訊息。{detail}",
    },
    "ce_dingtalk_http": {
        "en": "DingTalk gave an answer the bot did not expect. {detail}",
        "zh": "钉钉返回了意外的响应。{detail}",
        "zh-Hant": "釘釘傳回了意外的回應。{detail}",
    },
    # The list of recent messages.
    "wh_dingtalk_not_http": {
        "en": "refused: DingTalk is in Stream mode",
        "zh": "已拒绝：钉钉处于 Stream 模式",
        "zh-Hant": "已拒絕：釘釘處於 Stream 模式",
    },
    "wh_dingtalk_no_secret": {
        "en": "refused: DingTalk is not set up",
        "zh": "已拒绝：钉钉尚未设置",
        "zh-Hant": "已拒絕：釘釘尚未設定",
    },
    "wh_dingtalk_no_sign": {
        "en": "refused: no signature",
        "zh": "已拒绝：没有签名",
        "zh-Hant": "已拒絕：沒有簽章",
    },
    "wh_dingtalk_bad_sign": {
        "en": "refused: wrong signature or an old timestamp",
        "zh": "已拒绝：签名错误或时间戳过旧",
        "zh-Hant": "已拒絕：簽章錯誤或時間戳記過舊",
    },
    "wh_dingtalk_replayed": {
        "en": "refused: a signature already used for another message",
        "zh": "已拒绝：签名已被另一条消息使用过",
        "zh-Hant": "已拒絕：簽章已被另一則訊息使用過",
    },
    "wh_dingtalk_stale": {
        "en": "not answered: sent more than 5 minutes before it arrived",
        "zh": "未回答：消息在到达前 5 分钟以上发出",
        "zh-Hant": "未回答：訊息在抵達前 5 分鐘以上送出",
    },
    # what was wrong with a message the bot could not read
    "whd_dt_conversation": {
        "en": "conversationType must be 1 (one to one) or 2 (a group)",
        "zh": "conversationType 必须是 1（单聊）或 2（群聊）",
        "zh-Hant": "conversationType 必須是 1（單聊）或 2（群聊）",
    },
    "whd_dt_no_sender": {
        "en": "senderStaffId and senderId are both missing",
        "zh": "senderStaffId 和 senderId 都缺失",
        "zh-Hant": "senderStaffId 和 senderId 都缺失",
    },
    "whd_dt_foreign_link": {
        "en": "the sessionWebhook is not DingTalk's",
        "zh": "sessionWebhook 不是钉钉的地址",
        "zh-Hant": "sessionWebhook 不是釘釘的位址",
    },
}

SETTING_WORDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "dingtalk_client_id": (
        (
            "zh",
            "Client ID（AppKey）",
            "钉钉开发者后台中企业内部应用的 Client ID（凭证与基础信息）。它也是机器人的 robotCode。",
        ),
        (
            "zh-Hant",
            "Client ID（AppKey）",
            "釘釘開發者後台中企業內部應用的 Client ID（憑證與基礎資訊）。它也是機器人的 robotCode。",
        ),
    ),
    "dingtalk_client_secret": (
        (
            "zh",
            "Client Secret（AppSecret）",
            "企业内部应用的 Client Secret。用于建立 Stream 连接、验证 HTTP 回调的签名，以及获取发送回复所需的令牌。",
        ),
        (
            "zh-Hant",
            "Client Secret（AppSecret）",
            "企業內部應用的 Client Secret。用於建立 Stream 連線、驗證 HTTP 回呼的簽章，以及取得傳送回覆所需的權杖。",
        ),
    ),
    "dingtalk_mode": (
        (
            "zh",
            "消息接收方式",
            "stream：本服务器主动连接钉钉，无需开放端口、无需证书。http：钉钉向 /dingtalk 发送消息，该地址必须能从互联网通过 HTTPS 访问。",
        ),
        (
            "zh-Hant",
            "訊息接收方式",
            "stream：本伺服器主動連線釘釘，無需開放連接埠、無需憑證。http：釘釘向 /dingtalk 傳送訊息，該位址必須能從網際網路透過 HTTPS 存取。",
        ),
    ),
    "dingtalk_group_context": (
        ("zh", "群聊对话", "shared：每个群一个对话，模型会知道是谁在提问；per_user：每个成员各自一个对话。"),
        (
            "zh-Hant",
            "群組對話",
            "shared：每個群組一個對話，模型會知道是誰在提問；per_user：每個成員各自一個對話。",
        ),
    ),
    "dingtalk_api_url": (
        ("zh", "钉钉 API 地址", "用于令牌、回复链接过期后的回复，以及 Stream 网关。仅在私有部署时修改。"),
        (
            "zh-Hant",
            "釘釘 API 位址",
            "用於權杖、回覆連結過期後的回覆，以及 Stream 閘道。僅在私有部署時修改。",
        ),
    ),
    "dingtalk_oapi_url": (
        ("zh", "钉钉 OAPI 地址", "文件上传的地址。仅在私有部署时修改。"),
        ("zh-Hant", "釘釘 OAPI 位址", "檔案上傳的位址。僅在私有部署時修改。"),
    ),
}
