"""CLI verbs for the room: board (instructor), join and leave (learner), doctor."""

from __future__ import annotations

import os

from workshop.errors import WorkshopError


def connect() -> None:
    """Wire the room into the core's hooks (workshop/board/wiring.py); every command runs it."""
    from workshop.board import wiring

    wiring.connect()


def _board(args) -> int:
    from workshop.board import serve

    return serve.serve(args.host, args.port, args.stuck_minutes, args.new_key, args.tls)


def _join(args) -> int:
    from workshop.board import room

    url = args.room or os.environ.get("WORKSHOP_ROOM", "")
    code = args.code or os.environ.get("WORKSHOP_ROOM_CODE", "")
    name = args.name or os.environ.get("WORKSHOP_NAME", "")
    pin = args.pin or os.environ.get("WORKSHOP_ROOM_PIN", "")
    if not (url and code and name):
        current = room.load()
        if current and not (url or code or name):
            print(f"Joined {current['room']} as {current['name']}.")
            return 0
        raise WorkshopError("joining needs the board's URL, the room code and your name",
                            fix="make join ROOM=<url> CODE=<code> PIN=<fingerprint> "
                                "NAME='<your name>' (copy the instructor's join line)")
    link = room.join(url, code, name, pin or None)
    print(f"Joined {link['room']} as {link['name']}. From now on each check you run is also "
          "sent to the instructor's board (`workshop leave` stops that).")
    if room.queued():
        room.start_sender()
    return 0


def _leave(args) -> int:
    from workshop.board import room

    print("Left the room: checks are no longer sent." if room.leave() else "Not in a room.")
    return 0


def _doctor(args) -> int:
    from workshop.stack import doctor

    findings = doctor.run()
    print(doctor.render(findings))
    return 1 if any(f.level == doctor.FAIL for f in findings) else 0


def add_parsers(sub) -> None:
    b = sub.add_parser("board", help="instructors: the room's live progress board")
    b.add_argument("--host", default=os.environ.get("BOARD_HOST") or "127.0.0.1",
                   help="listen address (0.0.0.0: the room's network)")
    b.add_argument("--port", type=int, default=int(os.environ.get("BOARD_PORT") or 8765))
    b.add_argument("--stuck-minutes", type=float, default=10,
                   help="a learner failing one check this long is shown as stuck")
    b.add_argument("--new-key", action="store_true", help="make a new instructor key")
    b.add_argument("--tls", action="store_true",
                   help="serve HTTPS on loopback too (always on beyond loopback)")
    j = sub.add_parser("join", help="send your checks to the instructor's board")
    j.add_argument("--room", help="the board's URL (or WORKSHOP_ROOM)")
    j.add_argument("--code", help="the room code (or WORKSHOP_ROOM_CODE)")
    j.add_argument("--pin", help="the board's certificate fingerprint, for https:// boards "
                                 "(or WORKSHOP_ROOM_PIN)")
    j.add_argument("--name", help="your name as the instructor sees it (or WORKSHOP_NAME)")
    sub.add_parser("leave", help="stop sending your checks to the board")
    sub.add_parser("doctor", help="is this machine ready for class?")


# The verbs this module adds to `workshop` (read by workshop/cli/__init__.py).
VERBS = {
    "board": _board,
    "join": _join,
    "leave": _leave,
    "doctor": _doctor,
}
