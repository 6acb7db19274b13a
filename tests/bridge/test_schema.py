"""The codec: every message round-trips, and bad input is refused with the right code."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from bridge.errors import ErrorCode, ProtocolError
from bridge.messages import (
    Ack,
    Done,
    Fail,
    Generate,
    Hello,
    HelloReply,
    JobList,
    JobState,
    JobStatus,
    ModelState,
)
from bridge.schema import decode, encode, registered
from tests.bridge.samples import SAMPLES


def test_every_registered_message_has_a_sample() -> None:
    assert set(registered()) == {type(m).ADDRESS for m in SAMPLES}


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message) -> None:
    assert decode(encode(message)) == message


def _raw(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def test_keys_in_any_order_and_defaults_fill_in() -> None:
    message = decode(_raw("/stemloom/generate", "r1", "bars", 4, "prompt", "a tune", "bpm", 96))
    assert message == Generate(request_id="r1", prompt="a tune", bars=4, bpm=96.0)


def test_fields_left_out_are_read_from_the_prompt() -> None:
    """An OSC client that sends only a prompt gets what its words say; what it sends wins."""
    prompt = "acid house, 126 bpm, Gm, squelchy 303 line, crisp hats, in 3"
    message = decode(_raw("/stemloom/generate", "r1", "prompt", prompt, "bars", 2.0))
    assert (message.bpm, message.key, message.stems) == (126.0, "G minor", ("bass", "drums"))
    assert (message.time_signature, message.bars) == ("3/4", 2)
    sent = decode(_raw("/stemloom/generate", "r2", "prompt", prompt, "bpm", 120.0, "key", ""))
    assert (sent.bpm, sent.key) == (120.0, "")  # "": the client lets the model choose
    jazz = decode(_raw("/stemloom/generate", "r3", "prompt", "jazz trio"))
    assert jazz.stems == ("drums", "bass", "keys")  # the genre fills what the words leave out
    with pytest.raises(ProtocolError) as caught:
        decode(_raw("/stemloom/generate", "r4", "prompt", "no drums, heavy drums"))
    assert caught.value.request_id == "r4" and "prompt:" in caught.value.message


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        ((), ErrorCode.MISSING_ARGUMENT, "request id"),
        (("r1",), ErrorCode.MISSING_ARGUMENT, "prompt"),
        (("r1", "prompt"), ErrorCode.BAD_ARGUMENT, "pairs"),
        (("r1", "prompt", "x", "bars", "8"), ErrorCode.BAD_ARGUMENT, "integer"),
        (("r1", "prompt", "x", "bars", 8.5), ErrorCode.BAD_ARGUMENT, "integer"),
        (("r1", "prompt", "x", "bars", 0), ErrorCode.BAD_ARGUMENT, "bars"),
        (("r1", "prompt", "x", "bpm", 1000.0), ErrorCode.BAD_ARGUMENT, "bpm"),
        (("r1", "prompt", "x", "bpm", float("nan")), ErrorCode.BAD_ARGUMENT, "finite"),
        (("r1", "prompt", "x", "loop", 2), ErrorCode.BAD_ARGUMENT, "loop"),
        (("r1", "prompt", "x", "stems", "drums,kazoo"), ErrorCode.BAD_ARGUMENT, "kazoo"),
        (("r1", "prompt", "x", "stems", "drums,drums"), ErrorCode.BAD_ARGUMENT, "twice"),
        (("r1", "prompt", "x", "key", "H major"), ErrorCode.BAD_ARGUMENT, "key"),
        (("r1", "prompt", "x", "time_signature", "4/5"), ErrorCode.BAD_ARGUMENT, "time_signature"),
        (("r1", "prompt", "x", "sample_rate", 12345), ErrorCode.BAD_ARGUMENT, "sample_rate"),
        (("r1", "prompt", "x", "colour", "red"), ErrorCode.BAD_ARGUMENT, "unknown key"),
        (("r1", "prompt", "x", "prompt", "y"), ErrorCode.BAD_ARGUMENT, "twice"),
        (("r1", "prompt", "   "), ErrorCode.BAD_ARGUMENT, "empty"),
        (("../../etc", "prompt", "x"), ErrorCode.BAD_ARGUMENT, "request_id"),
        (("a/b", "prompt", "x"), ErrorCode.BAD_ARGUMENT, "request_id"),
        (("x" * 65, "prompt", "x"), ErrorCode.BAD_ARGUMENT, "request_id"),
        ((5, "prompt", "x"), ErrorCode.MISSING_ARGUMENT, "request id"),
    ],
)
def test_bad_generate_requests(args, code, fragment) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(_raw("/stemloom/generate", *args))
    assert caught.value.code == code
    assert fragment in caught.value.message or fragment in str(caught.value)


def test_unknown_address_keeps_the_request_id() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(_raw("/stemloom/explode", "r9"))
    assert (caught.value.code, caught.value.request_id) == (ErrorCode.UNKNOWN_ADDRESS, "r9")


def test_integers_are_accepted_for_floats_and_booleans() -> None:
    message = decode(_raw("/stemloom/generate", "r1", "prompt", "x", "bpm", 90, "loop", 1))
    assert message.bpm == 90.0 and message.loop is True


def test_states_decode_as_enums_and_travel_as_plain_strings() -> None:
    as_enum = JobState(request_id="j", state=JobStatus.RUNNING, fraction=0.5, stage="coarse",
                       queue_position=0)
    assert encode(as_enum) == encode(dataclasses.replace(as_enum, state="running"))
    assert decode(encode(as_enum)).state is JobStatus.RUNNING
    ack = decode(_raw("/stemloom/ack", "j", "state", "queued", "queue_position", 1))
    assert isinstance(ack, Ack) and ack.state is JobStatus.QUEUED
    hello = decode(_raw("/stemloom/hello/reply", "h", "engine_version", "1", "model", "m",
                        "model_state", "ready", "queue_size", 4))
    assert isinstance(hello, HelloReply) and hello.model_state is ModelState.READY
    with pytest.raises(ProtocolError, match="state: must be one of queued, running, done"):
        decode(_raw("/stemloom/ack", "j", "state", "finished", "queue_position", 0))


def test_encode_refuses_an_invalid_message() -> None:
    with pytest.raises(ProtocolError):
        encode(Generate(request_id="r1", prompt="x", bars=1000))


def test_dict_fields_travel_as_prefixed_keys() -> None:
    done = dataclasses.replace(
        next(m for m in SAMPLES if isinstance(m, Done)), stems={"drums.1": "/a", "drums.2": "/b"}
    )
    assert decode(encode(done)).stems == {"drums.1": "/a", "drums.2": "/b"}
    assert decode(encode(JobList(request_id="j", jobs={}))).jobs == {}


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data)


_ARG = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.floats(width=32, allow_nan=True),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40),
    st.booleans(),
    st.binary(min_size=1, max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(registered())), st.lists(_ARG, max_size=12))
def test_random_arguments_only_ever_raise_protocol_errors(address: str, args: list) -> None:
    try:
        message = decode(_raw(address, *args))
    except ProtocolError:
        return
    assert decode(encode(message)) == message


def test_hello_and_fail_samples_are_distinct_types() -> None:
    assert {type(m) for m in SAMPLES} >= {Hello, Fail}


def test_doubles_beyond_float32_are_refused() -> None:
    builder = OscMessageBuilder(address="/stemloom/preview")
    for arg, kind in (("p", "s"), ("path", "s"), ("/x.wav", "s"), ("seconds", "s"), (1e300, "d")):
        builder.add_arg(arg, kind)
    with pytest.raises(ProtocolError) as caught:
        decode(builder.build().dgram)
    assert caught.value.code == ErrorCode.BAD_ARGUMENT


@pytest.mark.parametrize("tag", ["c", "S", "I", "u"])
def test_an_unknown_type_tag_is_refused_without_a_log_line(
        tag: str, caplog: pytest.LogCaptureFixture) -> None:
    """python-osc skips a type it does not know with a warning on the root logger: a hostile
    client could grow the engine's log a line per packet. Such a packet is refused first."""
    hello = encode(Hello(request_id="h1"))
    tags_at = hello.index(b",")
    packet = hello[:tags_at] + b",s" + tag.encode() + b"\0" + b"h1\0\0" + b"\0\0\0\0"
    with caplog.at_level("DEBUG"), pytest.raises(ProtocolError) as caught:
        decode(packet)
    assert caught.value.code == ErrorCode.BAD_MESSAGE and "type tag" in caught.value.message
    assert caplog.records == []


def test_floats_arrive_as_the_decimal_that_was_sent() -> None:
    """Floats travel as OSC 'f' (32 bits): 0.7 sent must read 0.7, not 0.699999988, while a
    double that needs more than 32 bits is kept."""
    from dataclasses import replace

    from bridge.messages import Generate
    from bridge.schema import _shortest_float32

    sample = next(m for m in SAMPLES if isinstance(m, Generate))
    sent = replace(sample, temperature=0.7, guidance=2.2, reference_weight=0.35, bpm=84.3)
    received = decode(encode(sent))
    assert (received.temperature, received.guidance, received.reference_weight,
            received.bpm) == (0.7, 2.2, 0.35, 84.3)
    assert _shortest_float32(0.1234567890123) == 0.1234567890123
    assert _shortest_float32(-0.0) == 0.0 and _shortest_float32(1e-30) == 1e-30
