"""HTTP control API of the Bot API emulator (``/_emu/...``), used by the sandbox page.

Routes (JSON in/out; ``?token=`` picks the bot, default the first registered one):

* ``GET  /_emu/bots`` / ``GET /_emu/users`` - lists
* ``POST /_emu/users`` ``{first_name, last_name?, username?, language_code?}``
* ``POST /_emu/users/{id}/text|callback|contact|location`` (JSON body)
* ``POST /_emu/users/{id}/photo|document|voice`` (multipart ``file`` + ``caption``/``duration``)
* ``GET  /_emu/chats/{chat_id}/messages?since_version=N``
* ``GET  /_emu/chats/{chat_id}/wait?since_version=N&timeout=25``
* ``GET  /_emu/files/{file_id}``

Errors answer ``{"error": "..."}`` with status 400 (bad input) or 404 (unknown user,
chat, message or file).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox.emulator_params import UploadedFile, read_multipart
from bot.sandbox.emulator_types import EmulatorError, UserAction

# The emulator (bot.sandbox.emulator.BotAPIEmulator) imports this module to
# register these routes, so it is typed structurally here, not imported.
BotAPIEmulator = Any

__all__ = ["BadInput", "error", "guard", "json_body", "setup_control_routes"]

MAX_WAIT = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What a user does: (user id, JSON body, chat=..., token=...) -> the emulator's action.
Act = Callable[..., Awaitable[UserAction]]


class BadInput(Exception):
    """A request a route refuses: answered 400 with this message."""


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _action_json(action: UserAction) -> dict[str, Any]:
    return {
        "update_id": action.update_id,
        "message_id": action.message_id,
        "callback_query_id": action.callback_query_id,
        "chat_id": action.chat_id,
        "queued": action.queued,
    }


def guard(
    handler: Handler,
    *,
    not_found: tuple[type[Exception], ...] = (EmulatorError,),
    invalid: tuple[type[Exception], ...] = (ValueError, TypeError, KeyError),
) -> Handler:
    """``handler`` answering ``{"error": ...}``: 404 for ``not_found``, 400 for bad input.

    Also used by the sandbox page's own ``/api/`` routes (bot.sandbox.webapp).
    """

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except not_found as exc:
            return error(404, str(exc))
        except BadInput as exc:
            return error(400, str(exc))
        except invalid as exc:
            return error(400, f"{type(exc).__name__}: {exc}")

    return wrapped


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (``{}`` without a body); ``BadInput`` otherwise."""
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise BadInput(f"invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput("JSON object expected")
    return body


def _guess_mime(filename: str | None) -> str:
    return mimetypes.guess_type(filename or "")[0] or "application/octet-stream"


def _require(body: dict[str, Any], key: str) -> Any:
    if body.get(key) in (None, ""):
        raise BadInput(f"{key} is required")
    return body[key]


def setup_control_routes(app: web.Application, emu: BotAPIEmulator) -> None:
    """Register the ``/_emu/`` routes for ``emu`` on ``app``."""

    def token(request: web.Request) -> str | None:
        return request.query.get("token") or None

    def user_id(request: web.Request) -> int:
        return emu.user(int(request.match_info["user_id"])).id

    def chat_ref(body: dict[str, Any]) -> int | None:
        value = body.get("chat_id")
        return None if value in (None, "") else int(value)

    async def list_bots(request: web.Request) -> web.StreamResponse:
        return web.json_response([b.user.to_dict() for b in emu.state.bots.values()])

    async def list_users(request: web.Request) -> web.StreamResponse:
        return web.json_response([u.to_dict() for u in emu.users])

    async def create_user(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        user = emu.create_user(
            first_name=str(body.get("first_name") or "User"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code") or "zh-hans",
        )
        return web.json_response({**user.to_dict(), "chat_id": user.id})

    def user_action(act: Act) -> Handler:
        """A route for ``act(user_id, body, chat=..., token=...)``: a user does something."""

        async def route(request: web.Request) -> web.StreamResponse:
            body = await json_body(request)
            uid = user_id(request)
            action = await act(uid, body, chat=chat_ref(body), token=token(request))
            return web.json_response(_action_json(action))

        return route

    async def text(uid: int, body: dict[str, Any], **where: Any) -> UserAction:
        return await emu.send_text(uid, str(_require(body, "text")), **where)

    async def callback(uid: int, body: dict[str, Any], **where: Any) -> UserAction:
        return await emu.press_button(
            uid, int(_require(body, "message_id")), str(_require(body, "data")), **where
        )

    async def contact(uid: int, body: dict[str, Any], **where: Any) -> UserAction:
        return await emu.send_contact(
            uid, str(_require(body, "phone_number")), body.get("first_name"), **where
        )

    async def location(uid: int, body: dict[str, Any], **where: Any) -> UserAction:
        live = body.get("live_period")
        return await emu.send_location(
            uid,
            float(_require(body, "latitude")),
            float(_require(body, "longitude")),
            int(live) if live not in (None, "") else None,
            **where,
        )

    async def upload(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        if request.content_type != "multipart/form-data":
            raise BadInput("multipart/form-data with a 'file' part expected")
        form = await read_multipart(await request.multipart())
        file = form.get("file")
        if not isinstance(file, UploadedFile) or not file.data:
            raise BadInput("non-empty 'file' part required")
        caption = form.get("caption") if isinstance(form.get("caption"), str) else None
        ctype = file.content_type if file.content_type != "application/octet-stream" else None
        chat = chat_ref({"chat_id": form.get("chat_id")})
        uid, tok = user_id(request), token(request)
        if kind == "photo":
            action = await emu.send_photo(
                uid,
                file.data,
                caption or None,
                mime_type=ctype or "image/jpeg",
                chat=chat,
                token=tok,
            )
        elif kind == "voice":
            duration = int(form.get("duration") or 3)
            action = await emu.send_voice(
                uid,
                file.data,
                duration,
                mime_type=ctype or "audio/ogg",
                chat=chat,
                token=tok,
            )
        else:
            action = await emu.send_document(
                uid,
                file.data,
                file.filename or "file.bin",
                ctype or _guess_mime(file.filename),
                caption=caption or None,
                chat=chat,
                token=tok,
            )
        return web.json_response(_action_json(action))

    def chat_payload(chat_id: int, since: int, tok: str | None) -> dict[str, Any]:
        bot = emu.state.bot(tok)
        conv = emu.state.conversations.get((bot.token, chat_id))
        if conv is None:
            return {"version": 0, "messages": []}
        messages = [m.to_json() for m in conv.messages.values() if m.version > since]
        return {"version": conv.version, "messages": messages}

    def chat_id_of(request: web.Request) -> int:
        chat_id = int(request.match_info["chat_id"])
        if chat_id not in emu.state.chats:
            raise EmulatorError(f"unknown chat {chat_id}")
        return chat_id

    async def chat_messages(request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("since_version") or 0)
        return web.json_response(chat_payload(chat_id_of(request), since, token(request)))

    async def chat_wait(request: web.Request) -> web.StreamResponse:
        chat_id = chat_id_of(request)
        since = int(request.query.get("since_version") or 0)
        timeout = min(max(float(request.query.get("timeout") or 25), 0.0), MAX_WAIT)
        bot = emu.state.bot(token(request))

        def changed() -> bool:
            conv = emu.state.conversations.get((bot.token, chat_id))
            return (conv is not None and conv.version > since) or emu.state.closing

        await emu.state.changed.wait_for(changed, timeout)
        return web.json_response(chat_payload(chat_id, since, token(request)))

    async def file_download(request: web.Request) -> web.StreamResponse:
        stored = emu.state.files.get(request.match_info["file_id"])
        if stored is None:
            raise EmulatorError("unknown file")
        headers = {}
        if stored.file_name:
            headers["Content-Disposition"] = f'inline; filename="{stored.file_name}"'
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type or "application/octet-stream",
            headers=headers,
        )

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_emu/bots", list_bots),
        ("GET", "/_emu/users", list_users),
        ("POST", "/_emu/users", create_user),
        ("POST", "/_emu/users/{user_id}/text", user_action(text)),
        ("POST", "/_emu/users/{user_id}/callback", user_action(callback)),
        ("POST", "/_emu/users/{user_id}/contact", user_action(contact)),
        ("POST", "/_emu/users/{user_id}/location", user_action(location)),
        ("POST", "/_emu/users/{user_id}/{kind:photo|document|voice}", upload),
        ("GET", "/_emu/chats/{chat_id}/messages", chat_messages),
        ("GET", "/_emu/chats/{chat_id}/wait", chat_wait),
        ("GET", "/_emu/files/{file_id}", file_download),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, guard(handler))
    # CORS preflight (OPTIONS) is answered by the emulator's middleware.
