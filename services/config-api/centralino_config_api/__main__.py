"""Entry point: `centralino-config-api` or `python -m centralino_config_api`."""

from centralino.service import run
from centralino_config_api.service import ConfigApiService


def main() -> None:
    run("config-api", ConfigApiService)


if __name__ == "__main__":
    main()
