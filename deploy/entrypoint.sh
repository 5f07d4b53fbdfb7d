#!/bin/sh
# Reads the Docker secrets into the environment gridbot expects, then runs the command.
set -eu
[ -f /run/secrets/bot_token ] && BOT_TOKEN=$(cat /run/secrets/bot_token) && export BOT_TOKEN
[ -f /run/secrets/webhook_secret ] && WEBHOOK_SECRET=$(cat /run/secrets/webhook_secret) && export WEBHOOK_SECRET
if [ -f /run/secrets/db_password ]; then
    DATABASE_URL=$(printf '%s' "$DATABASE_URL" | sed "s#://gridbot@#://gridbot:$(cat /run/secrets/db_password)@#")
    export DATABASE_URL
fi
exec "$@"
