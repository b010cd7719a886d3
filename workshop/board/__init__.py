"""The instructor's live progress board and the learner's link to it.

    store.py     the room in SQLite (WAL): learners, every report, the derived grid
    schema.py    what a learner may send (a grading.to_json report), checked strictly
    app.py       the Starlette web app: join, post reports, the instructor's page and data
    serve.py     `make board`: open the room, print the join line, run uvicorn
    room.py      the learner's side: join once, queue each report, send it in the background
    binaries.py  the instructor's built binaries, served and fetched by sha256
"""
