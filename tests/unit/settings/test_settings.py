"""Settings from the environment fail at start with the variable named."""

from __future__ import annotations

import pytest

from centralino.settings import SettingsError, env_bool, env_hostport, env_int, env_peer


def test_peer_names_are_resolved_to_addresses_once() -> None:
    assert env_peer("X", "localhost:5070", {}) in {("127.0.0.1", 5070), ("::1", 5070)}
    assert env_peer("X", "unused:1", {"X": "10.1.2.3:5080"}) == ("10.1.2.3", 5080)


@pytest.mark.parametrize(
    "call",
    [
        lambda: env_peer("ROUTER", "", {"ROUTER": "no-such-host.invalid:5070"}),
        lambda: env_hostport("ROUTER", "", {"ROUTER": "5070"}),
        lambda: env_int("PORT", 1, {"PORT": "fifty"}),
        lambda: env_int("PORT", 1, {"PORT": "70000"}, maximum=65535),
        lambda: env_bool("FLAG", False, {"FLAG": "perhaps"}),
    ],
)
def test_bad_values_name_the_variable(call: object) -> None:
    with pytest.raises(SettingsError) as err:
        call()  # type: ignore[operator]
    assert err.value.variable in {"ROUTER", "PORT", "FLAG"}
