"""The case loop's end-to-end fixture (``bot``, the bot with its delivery engine on the
demo district) lives in tests/e2e/conftest.py: the adversarial and privacy tests use it too."""
