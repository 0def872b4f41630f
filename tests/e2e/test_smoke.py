"""The happy path, end to end: login link, consent, callback, search."""


def test_link_and_search(stack):
    r = stack.slash("smith", user="U0SMOKE001")
    assert r.status == 200
    assert "oauth/start?state=" in r.json()["text"]
    page = stack.link(user="U0SMOKE001")
    assert page.status == 200, page.text
    assert "alice@example.com" in page.text
    r = stack.slash("smith", user="U0SMOKE001")
    assert r.status == 200
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "Jane Smith" in body["text"]
