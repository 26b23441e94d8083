"""API keys: files and variables hold hashes only; bad entries name the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_brain.api.auth import KeyFileError, KeyRing, Principal, hash_key, key_from_headers, new_key


def test_keys_file_and_environment_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[key]]\nname = "feed-1"\nrole = "feed"\nsha256 = "{hash_key("a")}"\n')
    monkeypatch.setenv("FB_TEST_KEYS", f"eve:analyst:{hash_key('b')}")
    ring = KeyRing.from_sources(keys, "FB_TEST_KEYS")
    assert ring.lookup("a") == Principal("feed-1", "feed")
    assert ring.lookup("b") == Principal("eve", "analyst")
    assert ring.lookup(hash_key("a")) is None  # the hash itself is not a key
    assert "a" not in keys.read_text().split('"')


@pytest.mark.parametrize("text,message", [
    ('[[key]]\nname = "x"\nrole = "agent"\n', "missing text field(s) ['sha256']"),
    ('[[key]]\nname = "x"\nrole = "agent"\nsha256 = "plaintext-key"\n', "64 hex digits"),
    ('[[key]]\nname = "x"\nrole = "root"\nsha256 = "' + "a" * 64 + '"\n', "role 'root'"),
    ("[[key]\n", "keys file"),
])
def test_bad_keys_files_are_refused_with_the_entry(tmp_path: Path, text: str, message: str) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(text)
    with pytest.raises(KeyFileError) as caught:
        KeyRing.load_file(keys)
    assert message in str(caught.value) and str(keys) in str(caught.value)


def test_env_entries_need_three_parts() -> None:
    with pytest.raises(KeyFileError, match="entry 2: expected name:role:sha256"):
        KeyRing.parse_env(f"a:agent:{hash_key('k')},broken")


def test_new_keys_are_distinct_and_headers_are_read() -> None:
    assert new_key() != new_key()
    assert key_from_headers("bearer  k1 ", None) == "k1"
    assert key_from_headers(None, None) is None
