"""Send from Gmail in the portal over HTTP, against the Google stand-in (standins.gmail):
Connect goes to Google's consent page with the published parameters, the callback is
refused unless its state is this session's live one (and only once), the refresh token is
stored encrypted, members cannot connect, and Disconnect forgets and revokes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from standins.gmail import GMAIL_SEND, GoogleStandin, running_google_standin
from store import gmail_senders
from store.models import Role
from tests.web.conftest import Portal, csrf_of

ACCOUNT = "organizer@gmail.com"


@pytest.fixture
async def google(portal: Portal) -> AsyncIterator[GoogleStandin]:
    """The stand-in, and the portal's settings pointing at it (as GOOGLE_* would)."""
    standin = GoogleStandin(account=ACCOUNT)
    async with running_google_standin(standin) as url:
        settings = portal.settings
        settings.google_client_id = standin.client_id
        settings.google_client_secret = SecretStr(standin.client_secret)
        settings.google_oauth_url = f"{url}/o/oauth2/v2/auth"
        settings.google_token_url = f"{url}/token"
        settings.google_revoke_url = f"{url}/revoke"
        settings.gmail_api_url = url
        yield standin


async def press_connect(client: httpx.AsyncClient) -> str:
    """Connect on the Gmail page: the consent URL the portal sends the browser to."""
    page = await client.get("/web/gmail")
    assert page.status_code == 200 and 'id="gmail-connect"' in page.text
    response = await client.post("/web/gmail/connect", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def consent(url: str) -> str:
    """The person consents at Google: the callback URL Google sends them back to."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(url)
    assert answer.status_code == 302
    return answer.headers["location"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_connect_through_google_and_disconnect(portal: Portal, google, keybox) -> None:
    async with portal.signed_in(Role.ADMIN) as admin, portal.signed_in(Role.ADMIN) as other:
        url = await press_connect(admin)
        query = parse_qs(urlsplit(url).query)
        assert url.startswith(portal.settings.google_oauth_url + "?")
        assert query["client_id"] == [google.client_id]
        assert query["redirect_uri"] == [f"{portal.url}/web/gmail/callback"]
        assert query["response_type"] == ["code"]
        assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
        assert GMAIL_SEND in query["scope"][0].split()
        assert query["code_challenge_method"] == ["S256"] and query["state"][0]
        assert "client_secret" not in url and google.client_secret not in url

        callback = await consent(url)
        assert callback.startswith(f"{portal.url}/web/gmail/callback?")
        code = parse_qs(urlsplit(callback).query)["code"][0]
        # A state that is not the one issued, or another session's, connects nothing.
        forged = await admin.get(f"/web/gmail/callback?code={code}&state=forged")
        assert forged.status_code == 403 and "Press Connect again" in forged.text
        stolen = await other.get(path_of(callback))
        assert stolen.status_code == 403
        async with portal.sessions() as session:
            assert await gmail_senders.get(session, org_id=portal.org.org_id) is None

        done = await admin.get(path_of(callback))
        assert done.status_code == 303 and done.headers["location"] == "/web/gmail?connected=1"
        page = await admin.get("/web/gmail?connected=1")
        assert f'<dd id="gmail-address">{ACCOUNT}</dd>' in page.text
        google_origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))  # Connect goes there
        assert f"form-action 'self' {google_origin}" in page.headers["content-security-policy"]
        (refresh_token,) = list(google.grants)
        async with portal.sessions() as session:
            account = await gmail_senders.get(session, org_id=portal.org.org_id)
        assert account is not None and account.address == ACCOUNT
        assert account.connected_by == admin.user_id
        assert refresh_token.encode() not in account.token_ciphertext  # encrypted at rest
        assert gmail_senders.refresh_token(account, keybox) == refresh_token

        replayed = await admin.get(path_of(callback))  # the state was spent
        assert replayed.status_code == 403

        page = await admin.get("/web/gmail")
        response = await admin.post("/web/gmail/disconnect", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 303
        async with portal.sessions() as session:
            assert await gmail_senders.get(session, org_id=portal.org.org_id) is None
        assert google.grants[refresh_token].revoked  # withdrawn at Google too
        assert 'id="gmail-none"' in (await admin.get("/web/gmail")).text


async def test_refused_consent_and_members(portal: Portal, google) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        google.granted = {"openid", "email"}  # the person unticked "send email on your behalf"
        refused = await admin.get(path_of(await consent(await press_connect(admin))))
        assert refused.status_code == 409 and "Send email on your behalf" in refused.text
        google.granted, google.deny = None, True
        denied = await admin.get(path_of(await consent(await press_connect(admin))))
        assert denied.status_code == 409 and "access_denied" in denied.text
        async with portal.sessions() as session:
            assert await gmail_senders.get(session, org_id=portal.org.org_id) is None

    async with portal.signed_in(Role.MEMBER) as member:
        page = await member.get("/web/gmail")
        assert page.status_code == 200 and 'id="gmail-connect"' not in page.text
        response = await member.post("/web/gmail/connect", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 403


async def test_page_says_when_gmail_is_not_set_up(portal: Portal) -> None:
    async with portal.signed_in(Role.ADMIN) as admin:
        page = await admin.get("/web/gmail")
        assert 'id="gmail-off"' in page.text and 'id="gmail-connect"' not in page.text
        response = await admin.post("/web/gmail/connect", data={"csrf": csrf_of(page.text)})
        assert response.status_code == 409 and "GOOGLE_CLIENT_ID" in response.text
