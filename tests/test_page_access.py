"""The settings page's parts for issue 6: the channel editor, slash tokens, the access lists and
limits, and the people table with each person's use and own quotas."""

from __future__ import annotations

from app import settings
from tests.conftest import Bot
from tests.fake_synology import FakeChat
from tests.webclient import WebClient

TEAM = "T" * 60 + "team"
SLASH = "S" * 60 + "sl01"


def stored(bot: Bot) -> settings.Values:
    return settings.resolve(bot.runtime.store.settings(), {})


def add_team(admin: WebClient, fake_chat: FakeChat, **extra: str) -> dict[str, str]:
    fields = admin.settings_form()
    fields.update(
        {
            "ch-new-name": "team",
            "ch-new-token": TEAM,
            "ch-new-url": fake_chat.channel_url("I" * 60 + "inc1"),
            "ch-new-context": "per_user",
            "ch-new-triggers": "@ai, 小助手",
            **extra,
        }
    )
    return fields


def test_a_channel_is_added_edited_and_removed_on_the_page(
    admin_bot: Bot, admin: WebClient, fake_chat: FakeChat
) -> None:
    answer = admin.post("/settings", add_team(admin, fake_chat))
    assert answer.status_code == 303, answer.text[:500]
    [team] = stored(admin_bot).channels
    assert (team.name, team.outgoing_token, team.context, team.triggers) == (
        "team",
        TEAM,
        "per_user",
        ("@ai", "小助手"),
    )
    page = admin.get("/").text
    assert TEAM not in page and "I" * 60 not in page, "secrets never go back to the browser"
    assert "…team" in page and "…inc1" in page and 'value="@ai, 小助手"' in page
    # Saving the form again with the secret fields empty keeps them; a rename applies.
    fields = admin.settings_form()
    fields["ch-0-name"] = "team-renamed"
    assert admin.post("/settings", fields).status_code == 303
    [team] = stored(admin_bot).channels
    assert team.name == "team-renamed" and team.outgoing_token == TEAM
    assert admin_bot.in_channel(TEAM, "hi").status_code == 200  # the channel works at once
    fields = admin.settings_form()
    fields["ch-0-delete"] = "1"
    assert admin.post("/settings", fields).status_code == 303
    assert stored(admin_bot).channels == ()


def test_a_wrong_channel_is_explained_and_nothing_is_lost(
    admin_bot: Bot, admin: WebClient, fake_chat: FakeChat
) -> None:
    fields = add_team(admin, fake_chat, **{"ch-new-url": fake_chat.url()})  # the bot's URL, not a channel's
    fields["min_interval"] = "5"
    answer = admin.post("/settings", fields)
    assert answer.status_code == 400
    error = answer.text[answer.text.index('id="error-channels"') :]
    # The bot's URL in a channel's place is named as that mistake (issue 19, point 12).
    assert "this is the bot&#039;s incoming URL (method=chatbot)" in error[: error.index("</p>")]
    assert 'value="team"' in answer.text and 'value="@ai, 小助手"' in answer.text, "what was typed stays"
    assert stored(admin_bot).channels == () and stored(admin_bot).min_interval == 0, "nothing saved"
    for missing, problem in (("ch-new-token", "outgoing webhook"), ("ch-new-name", "needs a name")):
        fields = add_team(admin, fake_chat, **{missing: ""})
        answer = admin.post("/settings", fields)
        error = answer.text[answer.text.index('id="error-channels"') :]
        assert answer.status_code == 400 and problem in error[: error.index("</p>")]


def test_slash_tokens_are_added_and_removed(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields["slash_tokens"] = SLASH
    assert admin.post("/settings", fields).status_code == 303
    assert stored(admin_bot).slash_tokens == (SLASH,)
    page = admin.get("/").text
    assert SLASH not in page and "…sl01" in page
    assert admin_bot.slash(SLASH, "/whoami").json()["text"].startswith("Your Synology Chat user id")
    fields = admin.settings_form()
    fields["slash_tokens"] = "bad token"
    assert admin.post("/settings", fields).status_code == 400
    fields = admin.settings_form()
    fields["remove-slash-0"] = "1"
    assert admin.post("/settings", fields).status_code == 303
    assert stored(admin_bot).slash_tokens == ()


def test_access_lists_and_limits_are_saved_and_checked(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields |= {"access": "listed", "allowed_users": "4\n@bob", "admin_users": "1", "daily_tokens": "5000"}
    assert admin.post("/settings", fields).status_code == 303
    values = stored(admin_bot)
    assert (values.access, values.allowed_users, values.admin_users) == ("listed", ("4", "bob"), ("1",))
    assert values.daily_tokens == 5000
    assert "4\nbob</textarea>" in admin.get("/").text
    for name, raw in (("allowed_users", "bob smith"), ("questions_per_minute", "-2"), ("access", "all")):
        fields = admin.settings_form()
        fields[name] = raw
        answer = admin.post("/settings", fields)
        assert answer.status_code == 400 and f'id="error-{name}"' in answer.text, name
    assert stored(admin_bot).allowed_users == ("4", "bob")


def test_the_people_table_shows_use_and_takes_own_quotas(
    admin_bot: Bot, admin: WebClient, fake_chat: FakeChat
) -> None:
    assert 'id="people-empty"' in admin.get("/").text
    admin_bot.set(admin_users=["4"])
    admin_bot.say("hello", user_id=4, username="alice")
    admin_bot.say("hi", user_id=5, username="<b>bob</b>")
    admin_bot.idle()
    page = admin.get("/").text
    assert 'id="person-4"' in page and 'id="person-5"' in page
    assert "&lt;b&gt;bob&lt;/b&gt;" in page and "<b>bob</b>" not in page
    row = page[page.index('id="person-4"') : page.index("</tr>", page.index('id="person-4"'))]
    assert ">admin<" in row
    used = sum(r["prompt"] + r["completion"] for r in admin_bot.runtime.store.usage("synology:4"))
    assert f'<td class="num">{used}</td>' in row
    answer = admin.post("/people", {"ids": "4,5", "daily_tokens-5": "100", "monthly_tokens-5": "0"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/?msg=people_saved#people"
    assert admin_bot.runtime.store.user("synology:5")["limits"] == {"daily_tokens": 100, "monthly_tokens": 0}
    assert admin_bot.runtime.store.user("synology:4").get("limits") is None
    wrong = admin.post("/people", {"ids": "4,5", "daily_tokens-5": "lots"})
    assert wrong.status_code == 400 and 'id="people-error-5"' in wrong.text and 'value="lots"' in wrong.text
    assert admin_bot.runtime.store.user("synology:5")["limits"]["daily_tokens"] == 100, "nothing saved"
    assert admin.post("/people", {"ids": "5", "daily_tokens-5": ""}).status_code == 303
    assert admin_bot.runtime.store.user("synology:5")["limits"] is None, "empty: the general quota again"
    assert admin.post("/people", {"ids": "5"}, csrf=False).status_code == 403


def test_web_chat_accounts_are_added_hashed_and_removed(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields |= {"account-name": "mei", "account-password": "short"}
    refused = admin.post("/settings", fields)
    assert refused.status_code == 400 and 'id="error-webchat_users"' in refused.text
    assert 'value="mei"' in refused.text and "short" not in refused.text
    for name in ("admin", "two words", "a:b"):
        fields = admin.settings_form()
        fields |= {"account-name": name, "account-password": "long enough password"}
        assert admin.post("/settings", fields).status_code == 400, name
    fields = admin.settings_form()
    fields |= {"account-name": "mei", "account-password": "long enough password"}
    assert admin.post("/settings", fields).status_code == 303
    [account] = stored(admin_bot).webchat_users
    assert account["name"] == "mei" and account["hash"].startswith("scrypt$")
    stored_file = (admin_bot.data_dir / "settings.json").read_text()
    assert "long enough password" not in stored_file
    assert "<strong>mei</strong>" in admin.get("/").text
    fields = admin.settings_form()
    fields["remove-account-0"] = "1"
    assert admin.post("/settings", fields).status_code == 303
    assert stored(admin_bot).webchat_users == ()
