"""One filled-in instance of every message of the protocol, for round-trip tests."""

import hashlib

from bridge.messages import (
    Ack,
    Cancel,
    Chunk,
    Done,
    Fail,
    Fetch,
    Generate,
    Hello,
    HelloCapacity,
    HelloFiles,
    HelloReply,
    JobList,
    JobState,
    ListJobs,
    Preview,
    Progress,
    Status,
    Upload,
    UploadReply,
)

_DATA = bytes(range(256))
_SHA = hashlib.sha256(_DATA).hexdigest()

SAMPLES = [
    Hello(request_id="h1", client="tests", reply_port=9001),
    Generate(
        request_id="job-1",
        prompt="dusty lo-fi drums and mellow rhodes",
        bpm=84.0,
        bars=8,
        time_signature="6/8",
        key="F# minor",
        stems=("drums", "keys"),
        seed=7,
        variations=2,
        melody="/tmp/hum.wav",
        sample_rate=44100,
        format="float32",
        loop=True,
        token="s3cret",
    ),
    Cancel(request_id="job-1"),
    Status(request_id="job-1"),
    ListJobs(request_id="l1"),
    HelloReply(
        request_id="h1", engine_version="0.1.0", model="m", model_state="ready", queue_size=8
    ),
    Ack(request_id="job-1", state="queued", queue_position=2),
    Progress(request_id="job-1", fraction=0.5, stage="coarse"),
    Preview(request_id="job-1", path="/lib/job-1/preview.wav", seconds=2.0),
    Done(
        request_id="job-1",
        bpm=84.0,
        bars=8,
        time_signature="4/4",
        key="A minor",
        sample_rate=48000,
        format="wav24",
        seed=7,
        loop=False,
        model="m",
        metadata="/lib/job-1/job.json",
        stems={"drums": "/lib/job-1/drums.wav"},
    ),
    Fail(request_id="job-1", code="busy", message="the queue is full"),
    JobState(
        request_id="job-1", state="running", fraction=0.25, stage="semantic", queue_position=0
    ),
    JobList(request_id="l1", jobs={"job-1": "running", "job-0": "done"}, more=3),
    Upload(request_id="up-1", name="hum.wav", size=512, sha256=_SHA, offset=256, data=_DATA,
           checksum=_SHA),
    Fetch(request_id="f1", job="job-1", file="drums.wav", offset=1024, length=4096),
    HelloFiles(request_id="h1"),
    HelloCapacity(request_id="h1", workers=2, running=1, queue_size=8, waiting=3, free=5,
                  client_queue_size=4, client_free=2, device="cpu", batching=False),
    UploadReply(request_id="up-1", received=512, complete=True, path="upload:up-1"),
    Chunk(request_id="f1", file="drums.wav", size=2048, sha256=_SHA, offset=1024, data=_DATA,
          checksum=_SHA),
]
