"""API token identities: `api.tokens` as bare digests or `{digest, name, roles}` mappings,
named tokens in PATHWARDEN_API_TOKEN, the errors (which never repeat a secret), and the
`pathwarden token` entries that paste into the configuration."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pathwarden.engine.api_settings import ApiSettings, TokenIdentity
from pathwarden.engine.cli.main import main
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.settings import load_settings

ALICE = ApiSettings.digest("alice-token")
PLAIN = ApiSettings.digest("plain-token")


def settings_with(tmp_path: Path, api: str, environ: dict[str, str] | None = None):
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(api, encoding="utf-8")
    return load_settings(cfg, environ or {})


def test_digests_and_mappings_name_tokens_and_give_them_roles(tmp_path):
    api = settings_with(tmp_path, f"""
api:
  tokens:
    - '{PLAIN}'
    - {{digest: '{ALICE.upper().replace("SHA256", "sha256")}', name: alice,
       roles: [read, waivers:request]}}
    - {{digest: '{ApiSettings.digest("root-token")}', name: root, roles: admin}}
    - {{digest: '{ApiSettings.digest("bare-token")}'}}
""", {"PATHWARDEN_API_TOKEN": "ci=ci-token, old-token , YWJjZA==,alice-token"}).api
    by_name = {i.name: i for i in api.accepted()}
    plain_name = "token-" + PLAIN[7:15]
    bare = ApiSettings.digest("bare-token")
    assert set(by_name) == {plain_name, "alice", "root", "token-" + bare[7:15], "ci",
                            "token-" + ApiSettings.digest("old-token")[7:15],
                            "token-" + ApiSettings.digest("YWJjZA==")[7:15]}
    assert by_name["alice"] == TokenIdentity(ALICE, "alice",
                                             frozenset({"read", "waivers:request"}))
    assert by_name[plain_name].roles == by_name["ci"].roles == frozenset({"read", "write"})
    assert by_name["ci"].digest == ApiSettings.digest("ci-token")
    assert by_name["token-" + bare[7:15]].roles == frozenset({"read", "write"})
    root = by_name["root"]
    assert all(root.has(r) for r in ("read", "write", "waivers:request", "waivers:approve"))
    assert not by_name["alice"].has("waivers:approve") and not by_name["alice"].has("write")
    # `tokens` still lists every accepted digest, config first; the same token given in
    # the environment too keeps its configured identity.
    assert api.tokens[:4] == (PLAIN, ALICE, root.digest, bare)
    assert len(api.tokens) == len(set(api.tokens)) == 7
    assert "ci-token" not in repr(api) and "alice-token" not in repr(api)


def test_settings_built_in_code_from_digests_alone_still_work():
    api = ApiSettings(tokens=(PLAIN,))
    assert api.accepted() == [TokenIdentity(PLAIN, "token-" + PLAIN[7:15])]


@pytest.mark.parametrize(("entry", "message"), [
    ("{digest: hunter2, name: alice}", "api.tokens[0].digest is not a token digest"),
    ("{name: alice}", "api.tokens[0].digest is not a token digest"),
    (f"{{digest: '{ALICE}', name: alice, roles: [read, waivers:aprove]}}",
     "api.tokens[0] (alice): unknown role(s) ['waivers:aprove']; known: ['read', 'write', "
     "'waivers:request', 'waivers:approve', 'admin']"),
    (f"{{digest: '{ALICE}', name: 'file:x'}}", "api.tokens[0].name must be letters"),
    (f"{{digest: '{ALICE}', owner: alice}}", "unknown key(s) ['owner'] in api.tokens[0]"),
    (f"{{digest: '{ALICE}', roles: {{a: b}}}}", "roles must be a list of"),
])
def test_bad_entries_are_refused_naming_the_entry_never_the_secret(tmp_path, entry, message):
    with pytest.raises(ConfigError) as refused:
        settings_with(tmp_path, f"api:\n  tokens:\n    - {entry}\n")
    assert message in str(refused.value)
    assert "hunter2" not in str(refused.value) and ALICE not in str(refused.value)


def test_one_digest_cannot_have_two_identities(tmp_path):
    with pytest.raises(ConfigError, match=r"api\.tokens\[1\] \(bob\) has the same digest as "
                                          r"the entry named alice"):
        settings_with(tmp_path, f"""
api:
  tokens:
    - {{digest: '{ALICE}', name: alice}}
    - {{digest: '{ALICE}', name: bob}}
""")
    same = settings_with(tmp_path, f"api:\n  tokens: ['{ALICE}', '{ALICE}']\n").api
    assert same.tokens == (ALICE,)


def test_token_new_prints_the_mapping_entry_with_name_and_roles(tmp_path, capsys,
                                                                monkeypatch):
    assert main(["token", "new"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # token and hash, as before
    assert main(["token", "new", "--name", "alice", "--role", "read",
                 "--role", "waivers:request"]) == 0
    out = capsys.readouterr().out.splitlines()
    token = out[0].removeprefix("token: ")
    entry = out[2].removeprefix("entry: ")
    assert entry == (f"- {{digest: '{ApiSettings.digest(token)}', name: alice, "
                     "roles: [read, waivers:request]}")
    api = settings_with(tmp_path, f"api:\n  tokens:\n    {entry}\n").api
    assert api.accepted() == [TokenIdentity(ApiSettings.digest(token), "alice",
                                            frozenset({"read", "waivers:request"}))]

    monkeypatch.setattr("sys.stdin", io.StringIO("some-token\n"))
    assert main(["token", "hash", "--name", "bob"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"- {{digest: '{ApiSettings.digest('some-token')}', name: bob, roles: [read, write]}}")
    monkeypatch.setattr("sys.stdin", io.StringIO("one\ntwo\n"))
    assert main(["token", "hash", "--name", "bob"]) == 2
    assert "hash the tokens one by one" in capsys.readouterr().err
    assert main(["token", "new", "--name", "a:b"]) == 2
    assert "--name 'a:b'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["token", "new", "--role", "superuser"])
