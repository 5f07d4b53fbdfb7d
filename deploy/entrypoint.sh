#!/bin/sh
# Reads the Docker secrets into the environment gridbot expects, then runs the command as
# the user gridbot.  It starts as root because compose mounts the secrets' files as they are
# on the host (mode 0600, owned by root): only root can read them.
set -eu
secret() { [ -f "/run/secrets/$1" ] && cat "/run/secrets/$1"; }
if token=$(secret bot_token); then BOT_TOKEN=$token; export BOT_TOKEN; fi
if webhook_secret=$(secret webhook_secret); then WEBHOOK_SECRET=$webhook_secret; export WEBHOOK_SECRET; fi
if password=$(secret db_password); then
    # The password goes into DATABASE_URL's user part: make it with `openssl rand -hex` (no
    # characters that a URL or sed would read otherwise).
    DATABASE_URL=$(printf '%s' "${DATABASE_URL:-}" | sed "s#://gridbot@#://gridbot:$password@#")
    export DATABASE_URL
fi
unset token webhook_secret password
if [ "$(id -u)" = 0 ]; then
    HOME=$(getent passwd gridbot | cut -d: -f6)  # not root's: libraries read files there
    export HOME
    exec setpriv --reuid=gridbot --regid=gridbot --init-groups "$@"
fi
exec "$@"
