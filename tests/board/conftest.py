"""Fixtures for the board's tests: a room on disk, or a real uvicorn on a free loopback
port. Nothing here needs the cluster."""

from __future__ import annotations

import pytest
from board_helpers import KIT, Clock, LiveBoard

from workshop.board import room as room_link
from workshop.board.app import create_app
from workshop.board.store import Room


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(tmp_path, clock):
    r = Room(tmp_path / "room.sqlite", clock=clock)
    yield r
    r.close()


@pytest.fixture
def live_board(tmp_path):
    """(LiveBoard, Room): the real server; its room has real time and test rate limits."""
    room = Room(tmp_path / "live.sqlite")
    board = LiveBoard(create_app(room, kit=KIT, stuck_after_s=600)).start()
    yield board, room
    board.stop()
    room.close()


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """This test's own learner state folder (never the kit's .workshop*)."""
    state = tmp_path / "learner-state"
    monkeypatch.setattr(room_link, "LINK", state / "room.json")
    monkeypatch.setattr(room_link, "QUEUE", state / "room-queue")
    monkeypatch.setattr(room_link, "REJECTED", state / "room-queue" / "rejected")
    monkeypatch.setattr(room_link, "LOCK", state / "room-queue.lock")
    return state
