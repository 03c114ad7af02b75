"""The vendor command (keygen, mint) and the service's licence settings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from centralino.settings import SettingsError
from centralino_licensing.keys import check_activation, load_public_key, verify_key
from centralino_licensing.settings import LicensingSettings

from .conftest import HERE, SERIAL, mint


def vendor(*args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which("centralino-licence-vendor")
    argv = [command] if command else [sys.executable, "-m", "centralino_licensing.vendor"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=30, check=False)


def test_keygen_then_mint_verifies_with_the_printed_public_key(tmp_path: Path) -> None:
    private = tmp_path / "vendor.pem"
    made = vendor("keygen", "--private-key", str(private))
    assert made.returncode == 0, made.stderr
    assert "PRIVATE" not in made.stdout
    public = load_public_key(made.stdout)
    assert private.stat().st_mode & 0o077 == 0  # the private key is not group/world readable

    minted = vendor(
        "mint", "--private-key", str(private), "--product", "call-center", "--serial", SERIAL,
        "--channels", "12", "--expires", "2099-01-31", "--id", "LIC-CLI",
    )  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    claims = verify_key(minted.stdout.strip(), public)
    assert (claims.id, claims.product, claims.channels) == ("LIC-CLI", "call-center", 12)
    assert claims.expires_at == int(datetime(2099, 1, 31, tzinfo=UTC).timestamp())
    check_activation(claims, SERIAL, claims.valid_from)

    again = vendor("keygen", "--private-key", str(private))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_mint_refuses_bad_input_clearly(tmp_path: Path) -> None:
    key = str(HERE / "dev_private_key.pem")
    base = ["mint", "--private-key", key, "--serial", SERIAL, "--channels", "1"]
    bad_date = vendor(*base, "--product", "cti-pro", "--expires", "next tuesday")
    assert bad_date.returncode == 2 and "ISO 8601" in bad_date.stderr
    bad_product = vendor(*base, "--product", "kalliope-mega")
    assert bad_product.returncode == 2 and "invalid choice" in bad_product.stderr
    zero = vendor(*base[:-1], "0", "--product", "cti-pro")
    assert zero.returncode == 2 and "channels must be" in zero.stderr
    (tmp_path / "junk.pem").write_text("junk")
    no_key = vendor("mint", "--private-key", str(tmp_path / "junk.pem"), "--product", "cti-pro",
                    "--serial", SERIAL, "--channels", "1")  # fmt: skip
    assert no_key.returncode == 2 and "cannot load the private key" in no_key.stderr


BASE_ENV = {"CENTRALINO_SERIAL": SERIAL, "DATABASE_URL": "postgresql://u@127.0.0.1/db"}


def test_settings_default_to_the_shipped_dev_public_key() -> None:
    settings = LicensingSettings.from_env(BASE_ENV)
    assert verify_key(mint(), settings.public_key).serial == SERIAL
    assert settings.server_url == ""


@pytest.mark.parametrize(
    ("extra", "variable"),
    [
        ({"CENTRALINO_SERIAL": ""}, "CENTRALINO_SERIAL"),
        ({"CENTRALINO_SERIAL": "has spaces"}, "CENTRALINO_SERIAL"),
        ({"CENTRALINO_LICENCE_PUBLIC_KEY": "garbage!"}, "CENTRALINO_LICENCE_PUBLIC_KEY"),
        ({"CENTRALINO_LICENCE_SERVER_URL": "ftp://x"}, "CENTRALINO_LICENCE_SERVER_URL"),
        ({"CENTRALINO_LICENCE_LEASE_TTL": "0"}, "CENTRALINO_LICENCE_LEASE_TTL"),
        ({"CENTRALINO_LICENCE_SERVER_TIMEOUT": "-1"}, "CENTRALINO_LICENCE_SERVER_TIMEOUT"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
    ],
)
def test_bad_settings_name_the_variable(extra: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as err:
        LicensingSettings.from_env({**BASE_ENV, **extra})
    assert err.value.variable == variable
