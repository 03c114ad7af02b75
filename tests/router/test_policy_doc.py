"""The extension document config-api serves, read into the call-control policy."""

from __future__ import annotations

import json

import pytest

from centralino.v1 import config_pb2
from centralino_router.lookups import extension_policy
from centralino_router.policy import Origin, PolicyError, TargetKind


def _ext(doc: object) -> config_pb2.Extension:
    return config_pb2.Extension(
        tenant="t",
        number="201",
        enabled=True,
        display_name="Ada Lovelace",
        call_limit=2,
        busy_level=1,
        settings_json=json.dumps(doc).encode(),
    )


def test_nested_settings_with_null_targets_OVF_02() -> None:
    policy = extension_policy(
        _ext(
            {
                "number": "201",
                "settings": {
                    "limits": {"call_limit": 2, "busy_level": 1},
                    "overflow": {
                        "internal": {
                            "timeout": 20,
                            "busy": {"type": "extension", "target": "202"},
                            "no_answer": {"type": "hangup", "target": None},
                        },
                        "external": {"unavailable": {"type": "voicemail", "target": None}},
                    },
                },
            }
        )
    )
    assert (policy.call_limit, policy.busy_level, policy.display_name) == (2, 1, "Ada Lovelace")
    internal = policy.overflow_for(Origin.INTERNAL)
    assert internal.timeout_seconds == 20
    assert (internal.busy.kind, internal.busy.target) == (TargetKind.EXTENSION, "202")
    assert internal.no_answer.kind is TargetKind.HANGUP
    assert policy.overflow_for(Origin.EXTERNAL).unavailable.kind is TargetKind.VOICEMAIL
    assert policy.overflow_for(Origin.TRANSFER).timeout_seconds == 0


@pytest.mark.parametrize(
    "raw,field",
    [
        (b"{not json", "settings_json"),
        (b"[]", "settings_json.settings"),
        (b'{"settings": {"overflow": {"inside": {}}}}', "settings.overflow.inside"),
    ],
)
def test_malformed_documents_name_the_field(raw: bytes, field: str) -> None:
    ext = _ext({})
    ext.settings_json = raw
    with pytest.raises(PolicyError) as err:
        extension_policy(ext)
    assert err.value.field_path == field
