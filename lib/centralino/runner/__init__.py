"""``centralino up``: the whole PBX on one machine, on embedded defaults."""
