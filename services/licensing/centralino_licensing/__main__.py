"""Entry point: `centralino-licensing` or `python -m centralino_licensing`."""

from centralino.service import run
from centralino_licensing.service import LicensingService


def main() -> None:
    run("licensing", LicensingService)


if __name__ == "__main__":
    main()
