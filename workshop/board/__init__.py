"""The instructor's live progress board and the learner's link to it.

    store.py      the room in SQLite (WAL, private files): learners, their latest reports
                  (bounded: quotas, pruning), the derived grid
    schema.py     what a learner may send (a grading.to_json report of the kit's own
                  lessons), pydantic models
    ratelimit.py  per-client rate limits (`limits`, forgetting idle clients)
    app.py        the Starlette web app: join, post reports, the instructor's page and data
    tls.py        the board's own certificate, for HTTPS beyond loopback
    serve.py      `make board`: open the room, print the join line, run uvicorn (bounded)
    net.py        the learner's HTTP to the board: pinned TLS, no redirects, capped waits
    room.py       the learner's side: join once, queue each report, send it in the background
    binaries.py   the instructor's built binaries, served and fetched by sha256
"""
