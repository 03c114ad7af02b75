"""Entry point: `centralino-media` or `python -m centralino_media`."""

from centralino.service import run
from centralino_media.service import MediaService


def main() -> None:
    run("media", MediaService)


if __name__ == "__main__":
    main()
