"""Secret values masked in an execution's output and result (worker/masking.py, ExecutionOutput)."""

from __future__ import annotations

import json

from jobstream.worker.executors.output import ExecutionOutput, OutputOptions, Piece
from jobstream.worker.masking import MASK, Masker

SECRET = "hunter2-s3cr3t"


def test_a_value_is_masked_even_cut_between_any_two_pieces() -> None:
    text = f"before {SECRET} middle {SECRET}{SECRET} after".encode()
    for cut in range(len(text) + 1):
        masker = Masker([SECRET])
        out = masker.feed("stdout", text[:cut]) + masker.feed("stdout", text[cut:]) + masker.flush("stdout")
        assert out == f"before {MASK} middle {MASK}{MASK} after".encode(), cut


def test_streams_are_held_apart_and_a_prefix_that_never_completes_is_let_go() -> None:
    masker = Masker([SECRET, "other"])
    assert masker.feed("stdout", b"x hunt") == b"x "
    assert masker.feed("stderr", b"er2-s3cr3t") == b"er2-s3cr3t"  # not stdout's held prefix
    assert masker.flush("stdout") == b"hunt"


def test_text_masks_values_and_their_json_form() -> None:
    tricky = 'pa"ss\\word'
    masker = Masker([tricky, SECRET, ""])
    result = json.dumps({"password": tricky, "token": SECRET})
    assert masker.text(result) == json.dumps({"password": MASK, "token": MASK})
    assert tricky not in masker.text(tricky) and SECRET not in masker.text(f"error: {SECRET}")


def test_execution_output_sends_tails_and_chunks_masked() -> None:
    pieces: list[Piece] = []
    output = ExecutionOutput(pieces.append, options=OutputOptions(chunk_bytes=8), masker=Masker([SECRET]))
    for part in (b"token=hun", b"ter2-s3c", b"r3t\nand hunter", b"2"):
        output.feed("stdout", part)
    output.write_result(f'{{"token": "{SECRET}"}}')
    output.close()
    sent = "".join(p.data for p in pieces)
    assert SECRET not in sent and sent.count(MASK) == 2 and sent.startswith("token=***\nand hunter2")
    assert SECRET not in output.tails["stdout"].text() and "token=***" in output.tails["stdout"].text()
