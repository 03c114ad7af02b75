"""Entry point: `centralino-router` or `python -m centralino_router`."""

from centralino.service import run
from centralino_router.service import RouterService


def main() -> None:
    run("router", RouterService)


if __name__ == "__main__":
    main()
