"""The course's nbgrader exchange: an instructor-run daemon on a Unix socket (`server.py`), the
nbgrader exchange classes students and instructor use to talk to it (`client.py`) and the wire
format and archive rules both sides share (`protocol.py`). Nothing here imports more than the
standard library and nbgrader, so a student's Python needs no more than nbgrader."""
