"""Stemloom as a Python library: load a model, make stems as numpy arrays.

    import stemloom
    model = stemloom.load("default")           # or a generator folder, or "random-tiny"
    result = model.generate("dusty lo-fi drums", bpm=84, bars=8, stems=["drums", "bass"],
                            seed=0)
    result.stems["drums"]                      # float32 (2, 731429): 8 bars at 32 kHz
    result.sample_rate, result.key             # 32000, e.g. "A minor"
    again = model.regenerate_stem(result, "bass", seed=1)   # the drums stay as they are
    more = model.continue_(result, bars=4)                    # the four bars that follow
    result.save("take-1")                      # nothing is written unless asked

Every clip is cut to exactly ``bars`` bars at ``bpm`` (in loop mode the tail is folded into
the start). Fields left as None are read from the words of the prompt the way the CLI reads
them (``bridge.words``), then the genre the words name, then the defaults; the resolved
request and where each field came from are in the result.

The OSC engine runs every job through ``render`` here, so a request made through the
library and one sent to the engine with the same fields and seed give the same audio.
"""

from __future__ import annotations

import contextlib
import io
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bridge import limits
from bridge.timing import clip_seconds, loop_tail_seconds, quarters_per_bar
from bridge.words.resolve import Resolved, resolve_request
from engine.generation import QUIET, GeneratedAudio, Generator, JobCancelled, JobContext
from engine.render_output import fit_clip
from engine.request import AudioInput, GenerationRequest, KeptPlan, RequestError

__all__ = ["Chunk", "Model", "Result", "Stream", "load", "render"]

# A little extra audio for the resampler's edges.
EDGE_SECONDS = 0.05


@dataclass(frozen=True)
class Result:
    """What one generation made.

    ``stems`` maps each stem name (``<stem>.<n>`` with several variations, n from 1) to
    float32 audio shaped (channels=2, samples) at ``sample_rate`` Hz, exactly ``bars`` bars
    long (``samples == round(bars * beats_per_bar * 60 / bpm * sample_rate)``).
    """

    stems: dict[str, np.ndarray]
    sample_rate: int  # Hz
    request: GenerationRequest  # what the model was asked, every field resolved
    seed: int  # reproduces this result with the same model and request
    key: str  # e.g. "A minor": asked, kept from a plan, or heard in the music
    model: str  # the model's name
    # The musical plan: pass the result to Model.regenerate_stem to make stems again on it.
    plan: KeptPlan = field(default_factory=dict, repr=False)
    melody_midi: bytes = field(default=b"", repr=False)  # the melody on the grid, as a .mid
    resolved: Resolved | None = field(default=None, repr=False)  # where each field came from

    @property
    def mix(self) -> np.ndarray:
        """(2, samples) float32: the sum of the stems (of the first variation)."""
        names = [n for n in self.stems if "." not in n or n.endswith(".1")]
        return np.asarray(np.sum([self.stems[n] for n in names], axis=0), dtype=np.float32)

    @property
    def seconds(self) -> float:
        """Length of every clip in seconds."""
        return float(next(iter(self.stems.values())).shape[1] / self.sample_rate)

    def save(self, folder: str | Path, format: str = "wav24") -> dict[str, Path]:
        """Write ``<stem>.wav`` per stem (and ``melody.mid`` when a melody was followed)
        into ``folder`` (made if needed), each file complete or absent; the paths by name.
        ``format``: wav16, wav24 or float32."""
        import soundfile as sf

        from bridge.atomic import atomic_write_bytes

        if format not in limits.FORMAT_SUBTYPES:
            raise ValueError(f"format must be one of {', '.join(limits.FORMATS)}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, audio in self.stems.items():
            buffer = io.BytesIO()
            sf.write(buffer, audio.T, self.sample_rate, format="WAV",
                     subtype=limits.FORMAT_SUBTYPES[format])
            paths[name] = folder / f"{name}.wav"
            atomic_write_bytes(paths[name], buffer.getvalue())
        if self.melody_midi:
            paths["melody"] = folder / "melody.mid"
            atomic_write_bytes(paths["melody"], self.melody_midi)
        return paths


@dataclass(frozen=True)
class Chunk:
    """A piece of the preview mix as it is made: float32 (2, samples) at ``sample_rate`` Hz
    (the model's own rate), starting ``start`` samples into the clip. Previews are rough
    (the trained model previews its coarse levels) and are not cut to the bars."""

    audio: np.ndarray
    sample_rate: int
    start: int


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads, then restore the caller's count
    (None: leave torch alone)."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def render(generator: Generator, request: GenerationRequest, seed: int, *,
           sample_rate: int | None = None, context: JobContext = QUIET,
           threads: int | None = 1) -> Result:
    """Run ``generator`` on ``request`` and cut every stem to exactly the request's bars,
    resampled to ``sample_rate`` Hz (None: the model's own rate). ``threads``: torch threads
    for the generation (restored afterwards; None leaves them alone). Raises RequestError
    for a request the model cannot serve and JobCancelled when ``context`` cancels."""
    with torch_threads(threads):
        raw = generator.generate(request, seed, generation_seconds(request), context)
    return fitted(generator.name, raw, request, seed, sample_rate)


def generation_seconds(request: GenerationRequest) -> float:
    """The seconds a generator is asked for: the request's bars, the resampler's edge and,
    in loop mode, the tail folded into the start."""
    seconds = clip_seconds(request.bpm, request.bars, request.time_signature) + EDGE_SECONDS
    if request.loop:
        seconds += loop_tail_seconds(request.bpm)
    return seconds


def fitted(model: str, raw: GeneratedAudio, request: GenerationRequest, seed: int,
           sample_rate: int | None = None) -> Result:
    """The Result of ``model``'s raw output: every stem cut to exactly the request's bars,
    resampled to ``sample_rate`` Hz (None: the model's own rate)."""
    rate = sample_rate or raw.sample_rate
    stems = {name: fit_clip(audio, raw.sample_rate, bpm=request.bpm, bars=request.bars,
                            time_signature=request.time_signature, loop=request.loop,
                            target_rate=rate)
             for name, audio in raw.stems.items()}
    return Result(stems=stems, sample_rate=rate, request=request, seed=seed, key=raw.key,
                  model=model, plan=raw.plan, melody_midi=raw.melody_midi)


class _Listener:
    """The JobContext of an API call: progress to a callback, previews to a callback,
    cancelled when its event is set."""

    def __init__(self, on_progress: Callable[[float, str], None] | None = None,
                 on_preview: Callable[[np.ndarray, int], None] | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.on_progress, self.on_preview, self.cancel = on_progress, on_preview, cancel

    def progress(self, fraction: float, stage: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise JobCancelled("the stream was closed")
        if self.on_progress is not None:
            self.on_progress(fraction, stage)

    def preview(self, mix: np.ndarray, sample_rate: int) -> None:
        if self.on_preview is not None:
            self.on_preview(mix, sample_rate)


class Stream:
    """Preview chunks of one generation as they are made; the result once they end.

        stream = model.stream("warm keys", bars=4)
        for chunk in stream:            # Chunk: new preview audio, (2, samples) float32
            play(chunk.audio)
        stream.result.stems["keys"]     # the finished, cut clips

    The generation runs on a worker thread; leaving the loop early (break, or ``close()``)
    cancels it. An error of the generation is raised from the loop.
    """

    def __init__(self, run: Callable[[JobContext], Result]) -> None:
        self._run = run
        self._result: Result | None = None
        self._cancel = threading.Event()
        self._started = False

    @property
    def result(self) -> Result:
        """The finished result (after the chunks are all read)."""
        if self._result is None:
            raise RuntimeError("the stream has not finished: read its chunks first")
        return self._result

    def close(self) -> None:
        """Stop the generation (the chunks end)."""
        self._cancel.set()

    def __iter__(self) -> Iterator[Chunk]:
        if self._started:
            raise RuntimeError("a stream can be read once")
        self._started = True
        items: queue.Queue[tuple[str, Any]] = queue.Queue()

        def on_preview(mix: np.ndarray, rate: int) -> None:
            items.put(("preview", (np.array(mix, dtype=np.float32), rate)))

        def work() -> None:
            try:
                items.put(("result", self._run(_Listener(None, on_preview, self._cancel))))
            except BaseException as error:  # handed to the reader, raised there
                items.put(("error", error))

        worker = threading.Thread(target=work, name="stemloom-stream", daemon=True)
        worker.start()
        sent = 0
        try:
            while True:
                kind, value = items.get()
                if kind == "preview":
                    mix, rate = value
                    if mix.shape[1] > sent:
                        yield Chunk(mix[:, sent:], rate, sent)
                        sent = mix.shape[1]
                elif kind == "result":
                    self._result = value
                    return
                else:
                    if isinstance(value, JobCancelled) and self._cancel.is_set():
                        return
                    raise value
        finally:
            self._cancel.set()  # a reader that left early cancels the work
            worker.join()


class Model:
    """A loaded generation model (see ``load``).

    ``threads``: torch threads a generation runs on (set for the call, then the caller's
    count is restored; None leaves torch's setting alone). One is fastest for these many
    small steps on a laptop; more can help a large model on a big machine.
    """

    def __init__(self, generator: Generator, *, threads: int | None = 1) -> None:
        self.generator = generator
        self.threads = threads

    @property
    def name(self) -> str:
        """The model's name."""
        return str(self.generator.name)

    @property
    def stems(self) -> tuple[str, ...]:
        """The stem names this model makes ('mix' is the whole track in one)."""
        return tuple(self.generator.stems)

    def __repr__(self) -> str:
        return f"<stemloom.Model {self.name!r} stems={','.join(self.stems)}>"

    # ------------------------------------------------------------------ requests

    def request(self, prompt: str, *, bpm: float | None = None, bars: int | None = None,
                time_signature: str | None = None, key: str | None = None,
                stems: Sequence[str] | None = None, variations: int = 1,
                melody: str | Path | None = None, melody_timing: str = "free",
                loop: bool = False, reference: AudioInput | None = None,
                reference_weight: float = 0.5, continue_from: AudioInput | None = None,
                guidance: float = 3.0,
                temperature: float = limits.DEFAULT_TEMPERATURE, top_k: int = 250,
                top_p: float = 0.0, best_of: int = 1
                ) -> tuple[GenerationRequest, Resolved]:
        """The GenerationRequest these settings make (fields left None read from the
        prompt's words, its genre, then the defaults) and where each field came from.
        ValueError (a RequestError) for a setting out of range or words that contradict
        themselves."""
        explicit = {"bpm": bpm, "bars": bars, "time_signature": time_signature, "key": key,
                    "stems": list(stems) if stems is not None else None}
        try:
            resolved = resolve_request(prompt, explicit=explicit)
        except ValueError as error:
            raise RequestError(f"prompt: {error}") from None
        request = GenerationRequest(
            prompt=prompt, bpm=resolved.bpm, bars=resolved.bars,
            time_signature=resolved.time_signature, key=resolved.key, stems=resolved.stems,
            variations=variations, melody=str(melody) if melody else "",
            melody_timing=melody_timing, loop=loop, reference=reference,
            reference_weight=reference_weight, continue_from=continue_from,
            guidance=guidance, temperature=temperature, top_k=top_k, top_p=top_p,
            best_of=best_of)
        self._check(request)
        return request, resolved

    def _check(self, request: GenerationRequest, sample_rate: int | None = None) -> None:
        """RequestError for a field out of the engine's ranges (bridge.limits)."""
        if sample_rate is not None and sample_rate not in limits.SAMPLE_RATES:
            raise RequestError(f"sample_rate: one of {', '.join(map(str, limits.SAMPLE_RATES))}")
        ranges = {"bpm": (limits.MIN_BPM, limits.MAX_BPM),
                  "bars": (limits.MIN_BARS, limits.MAX_BARS),
                  "variations": (1, limits.MAX_VARIATIONS), "best_of": (1, limits.MAX_BEST_OF),
                  "guidance": (1.0, limits.MAX_GUIDANCE), "temperature": (0.1, 2.0),
                  "reference_weight": (0.0, 1.0), "top_k": (0, 1024), "top_p": (0.0, 1.0)}
        for name, (low, high) in ranges.items():
            if not low <= getattr(request, name) <= high:
                raise RequestError(f"{name}: {getattr(request, name)} is not in "
                                   f"{low}..{high}")
        unknown = [s for s in request.stems if ("pads" if s == "pad" else s) not in self.stems]
        if unknown or not request.stems:
            asked = f"{unknown[0]!r} is not one this model makes" if unknown else "none asked"
            raise RequestError(f"stems: {asked}; it makes {', '.join(self.stems)}")
        if len(request.stems) > limits.MAX_STEMS:
            raise RequestError(f"stems: at most {limits.MAX_STEMS}")
        if request.melody_timing not in limits.MELODY_TIMINGS:
            raise RequestError(f"melody_timing: one of {', '.join(limits.MELODY_TIMINGS)}")
        try:
            quarters_per_bar(request.time_signature)
        except (ValueError, ZeroDivisionError):
            raise RequestError(f"time_signature: {request.time_signature!r} is no meter"
                               ) from None

    def run(self, request: GenerationRequest, *, seed: int | None = None,
            sample_rate: int | None = None,
            on_progress: Callable[[float, str], None] | None = None,
            on_preview: Callable[[np.ndarray, int], None] | None = None) -> Result:
        """Make a fully resolved ``request`` (see ``request``); ``seed`` None picks one
        (reported in the result). ``on_progress(fraction 0-1, stage)`` and
        ``on_preview(mix (2, samples) float32 so far, sample_rate)`` are called as it goes."""
        self._check(request, sample_rate)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        return render(self.generator, request, seed, sample_rate=sample_rate,
                      context=_Listener(on_progress, on_preview), threads=self.threads)

    def generate(self, prompt: str, *, bpm: float | None = None, bars: int | None = None,
                 stems: Sequence[str] | None = None, key: str | None = None,
                 melody: str | Path | None = None, seed: int | None = None,
                 sample_rate: int | None = None,
                 on_progress: Callable[[float, str], None] | None = None,
                 **options: Any) -> Result:
        """Make ``bars`` bars at ``bpm`` of each of ``stems`` for ``prompt``.

        bpm: beats per minute; bars: whole bars of ``time_signature`` (default "4/4");
        stems: names from ``model.stems`` ("mix" for the whole track in one); key: e.g.
        "A minor" ("" lets the model choose); melody: path of a hum or a MIDI clip to
        follow; seed: an int reproduces a result, None picks one. Any of bpm, bars,
        time_signature, key, stems left None is read from the prompt ("a 90 bpm
        bossa in D minor, 4 bars") as the CLI reads it, else the genre's or the default.
        sample_rate: Hz of the returned arrays (None: the model's own, 32000 for the
        shipped model). More options (``variations``, ``loop``, ``reference``,
        ``reference_weight``, ``melody_timing``, ``guidance``, ``temperature``, ``top_k``,
        ``top_p``, ``best_of``) as in ``bridge.messages.Generate``.

        Returns a Result: ``stems[name]`` float32 (2, samples), exactly the bars long.
        """
        request, resolved = self.request(prompt, bpm=bpm, bars=bars, stems=stems, key=key,
                                         melody=melody, **options)
        result = self.run(request, seed=seed, sample_rate=sample_rate,
                          on_progress=on_progress)
        return replace(result, resolved=resolved)

    def continue_(self, clip: Result | AudioInput, prompt: str | None = None, *,
                  seed: int | None = None, sample_rate: int | None = None,
                  **settings: Any) -> Result:
        """Make the bars that follow ``clip``: a Result (its mix, and its prompt and
        settings unless given), a file path, or ``(audio (channels, samples) float32,
        sample_rate)``. The result holds only the new bars; the model reads the clip's last
        few seconds. Other arguments as in ``generate``."""
        if isinstance(clip, Result):
            before = clip.request
            kept = {"bpm": before.bpm, "bars": before.bars, "stems": before.stems,
                    "time_signature": before.time_signature, "key": clip.key}
            settings = {**kept, **settings}
            prompt = before.prompt if prompt is None else prompt
            sample_rate = sample_rate or clip.sample_rate
            clip = (clip.mix, clip.sample_rate)
        if prompt is None:
            raise TypeError("continue_ needs a prompt when the clip is not a Result")
        return self.generate(prompt, seed=seed, sample_rate=sample_rate,
                             continue_from=clip, **settings)

    def regenerate_stem(self, result: Result, stems: str | Sequence[str], *,
                        seed: int | None = None) -> Result:
        """Make ``stems`` of ``result`` again on its plan (same harmony, groove and form)
        with a new ``seed``; the other stems are kept as they are. Returns a new Result
        holding every stem; its ``request`` and ``seed`` are those of the new stems."""
        names = (stems,) if isinstance(stems, str) else tuple(stems)
        request = replace(result.request, stems=names, keep_plan=result.plan)
        new = self.run(request, seed=seed, sample_rate=result.sample_rate)
        return replace(new, stems={**result.stems, **new.stems}, resolved=result.resolved)

    def stream(self, prompt: str, *, seed: int | None = None, sample_rate: int | None = None,
               **settings: Any) -> Stream:
        """Like ``generate``, as a Stream: iterate it for preview Chunks while the music is
        made, then read ``stream.result``. Settings are checked (and the seed chosen) now."""
        request, resolved = self.request(prompt, **settings)
        self._check(request, sample_rate)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)

        def run(context: JobContext) -> Result:
            result = render(self.generator, request, seed, sample_rate=sample_rate,
                            context=context, threads=self.threads)
            return replace(result, resolved=resolved)

        return Stream(run)


def load(name: str | Path = "default", *, threads: int | None = 1) -> Model:
    """Load a model: "default" (the one that ships), the path of a generator folder
    (``stemloom train``), or "random-tiny" (untrained, for tests). Raises
    ``engine.generation.NoTrainedModel`` when the weights are not installed. ``threads``:
    see ``Model``. Loading leaves torch's global settings (threads, RNG) as they were."""
    import torch

    from engine.model_store import load_generator

    with torch.random.fork_rng(devices=[]):  # building the modules draws from torch's RNG
        generator = load_generator(str(name))
    return Model(generator, threads=threads)
