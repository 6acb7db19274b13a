"""The trained generator: a request in, stems out, through semantic -> coarse -> fine -> codec.

One request runs as one batch: the semantic plan is sampled once per candidate (variations x
best-of), then every stem of every candidate is one row of the coarse and fine stages, all
following their candidate's plan — that shared plan is how the stems agree on harmony, groove
and form, and keeping it (``keep_from``) is how one stem is made again while the others stay.
The mix a producer hears is the sum of the stems, or a 'mix' row when only the mix is asked.

Several requests of the same length and sampling settings run as one batch through
``generate_batch``: their rows side by side in every stage and the codec, each job drawing
from its own seeded torch generator (``engine.generator.batch``), with its own progress,
previews and cancel; finishing stays per job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from bridge import limits
from engine.codec.config import ACOUSTIC_RATE, SAMPLE_RATE, SEMANTIC_RATE
from engine.codec.model import Codec
from engine.codec.streaming import context_frames
from engine.generation import QUIET, GeneratedAudio, JobContext
from engine.generator import conditions as cond
from engine.generator.batch import BatchJob
from engine.generator.finish import (
    Mastering,
    PreviewFinisher,
    family_of,
    finish_stems,
    kept_takes,
    load_reference,
    plan_entries,
)
from engine.generator.kept_mix import kept_peaks, peak_entries
from engine.generator.key_prior import STRENGTH as KEY_STRENGTH
from engine.generator.key_prior import key_prior
from engine.generator.model import StageModel
from engine.generator.patterns import delayed, undelayed
from engine.generator.sampling import (
    Lane,
    SamplingOptions,
    row_guidance,
    sample_causal,
    sample_lanes,
)
from engine.generator.semantic import FrameFeatures, SemanticTokenizer
from engine.melody.condition import melody_clip, request_melody
from engine.melody.key import estimate_key, melody_key
from engine.melody.tokens import NO_MELODY, MelodyNote, melody_tokens
from engine.mulan.api import MulanConditioner
from engine.request import AudioInput, GenerationRequest, KeptPlan, RequestError, read_input

PREVIEW_EVERY_FRAMES = ACOUSTIC_RATE  # one preview chunk per second of audio...
# ...after a first one as soon as a little sound is known: FIRST_PREVIEW_FRAMES new coarse
# frames, of which the last PREVIEW_LOOKAHEAD only serve as the codec's look-ahead (its exact
# reach, context_frames, is 23 frames; 6 decode to within about 40 dB of it), then one every
# EARLY_PREVIEW_FRAMES until the once-a-second rhythm, so playback that starts on the first
# chunk (0.24 s) has the next before it runs dry while coarse sampling outpaces playback.
FIRST_PREVIEW_FRAMES = 18
EARLY_PREVIEW_FRAMES = 16
PREVIEW_LOOKAHEAD = 6
FINE_CONTEXT = 16  # frames of context either side of each fine-stage chunk
PROMPT_SECONDS = 4.0  # how much of a clip to continue the model reads


@dataclass(frozen=True)
class Plan:
    """Everything one request needs, resolved from its fields."""

    mulan: np.ndarray  # (12,) MuLan tokens of the prompt (and reference)
    key: int  # conditions.key_index
    frames: int  # 25 Hz frames of new music
    melody: np.ndarray | None  # (frames,) 25 Hz melody tokens
    melody_notes: list[MelodyNote]
    prompt_semantic: np.ndarray | None  # (P,) semantic tokens of the clip to continue
    prompt_codes: torch.Tensor | None  # (2, n_q, 2P) codes of that clip
    kept_semantic: np.ndarray | None  # (variations, frames) the plan of ``keep_from``
    names: list[str]  # output name of each acoustic row
    stems: list[int]  # stem index of each acoustic row
    candidate: list[int]  # which semantic row each acoustic row follows

    @property
    def prompt_frames(self) -> int:
        """25 Hz frames of the clip being continued (0 without one)."""
        return 0 if self.prompt_semantic is None else len(self.prompt_semantic)


@dataclass
class _Run:
    """A planned job of a batch and its own random generator."""

    job: BatchJob
    plan: Plan
    options: SamplingOptions
    generator: torch.Generator
    left: bool = False

    @property
    def request(self) -> GenerationRequest:
        """The job's request."""
        return self.job.request

    def leave(self, error: Exception) -> Exception:
        """The job leaves the batch with ``error``: tell its ``on_leave`` (once)."""
        if not self.left:
            self.left = True
            _tell(self.job, error)
        return error

    def watched(self, step: Callable[[int, torch.Tensor], None] | None
                ) -> Callable[[int, torch.Tensor], None] | None:
        """``step`` telling the job's ``on_leave`` when it raises (the lane leaves then)."""
        if step is None:
            return None

        def watched_step(t: int, tokens: torch.Tensor) -> None:
            try:
                step(t, tokens)
            except Exception as error:
                self.leave(error)
                raise

        return watched_step


def _tell(job: BatchJob, error: Exception) -> None:
    """Tell a job's ``on_leave`` that it left the batch with ``error``."""
    if job.on_leave is not None:
        job.on_leave(error)


def options_for(request: GenerationRequest) -> SamplingOptions:
    """The request's sampling settings."""
    return SamplingOptions(temperature=request.temperature, top_k=request.top_k,
                           top_p=request.top_p, guidance=request.guidance)


class HierarchicalGenerator:
    """The default model: MuLan + three token stages + the codec."""

    name = "stemloom-default"

    def __init__(self, stages: dict[str, StageModel], tokenizer: SemanticTokenizer,
                 codec: Codec, mulan: MulanConditioner) -> None:
        self.semantic, self.coarse = stages["semantic"].eval(), stages["coarse"].eval()
        self.fine = stages["fine"].eval() if "fine" in stages else None
        self.tokenizer, self.codec, self.mulan = tokenizer, codec.eval(), mulan
        # The stems this model knows, in the order its stages embed them (from its weights).
        self.stems: tuple[str, ...] = self.semantic.cfg.stems
        for stage in (self.coarse, self.fine):
            if stage is not None and stage.cfg.stems != self.stems:
                raise ValueError(f"the {stage.cfg.stage} stage knows the stems "
                                 f"{stage.cfg.stems}, the semantic stage {self.stems}")
        self.key_strength = KEY_STRENGTH  # the plan's pull toward a requested key (nats)
        # The corpus's stereo image and level per stem family (finish.py); None: as decoded.
        self.stem_sound: dict[str, dict[str, float]] | None = None
        self._features = FrameFeatures()
        self.mulan.embed_text(["warm-up"])  # load the sentence encoder now, not on a job
        with torch.inference_mode():  # and the codec's first-call costs (no random draws)
            self.codec.decode(torch.zeros((1, 2, 2, FIRST_PREVIEW_FRAMES), dtype=torch.long))

    @torch.inference_mode()
    def generate(self, request: GenerationRequest, seed: int, seconds: float,
                 context: JobContext = QUIET) -> GeneratedAudio:
        """Make ``seconds`` of every requested stem and variation: (2, samples) float32 at
        the codec's rate per stem, at least ``seconds`` long. Torch's thread count is the
        caller's to set (``engine.api`` runs generation on one thread: it is thousands of
        small steps, and on a busy 2-core machine every op waits for a second thread)."""
        generator = torch.Generator().manual_seed(seed)
        options = options_for(request)
        plan = self.plan(request, seconds)
        context.progress(0.02, "semantic")
        semantic = self._kept_semantic(request, plan)
        if semantic is None:
            semantic = self.sample_semantic(request, plan, options, generator, context)
        coarse = self.sample_coarse(request, plan, semantic, options, generator, context)
        context.progress(0.8, "fine")
        codes = self.sample_fine(request, plan, coarse)
        context.progress(0.9, "decode")
        skip = plan.prompt_frames * 2
        audio = self.codec.decode(codes[..., skip:]).numpy()
        return self._result(request, plan, semantic, audio)

    @staticmethod
    def batch_key(request: GenerationRequest, seconds: float) -> object:
        """What requests must share to run as one batch (compared with ==): the frames of
        new music and the sampling settings (a clip to continue adds frames known only once
        it is read: ``generate_batch`` groups again by the plans)."""
        return (int(np.ceil(seconds * SEMANTIC_RATE)), request.continue_from is None,
                options_for(request))

    @torch.inference_mode()
    def generate_batch(self, jobs: Sequence[BatchJob]) -> list[GeneratedAudio | Exception]:
        """``generate`` for several jobs at once: per job, what ``generate`` would return
        for it alone (up to the forward pass's float drift, see ``engine.generator.batch``)
        or what it would raise (a bad request, a cancel; told at once to the job's
        ``on_leave``, its rows leaving the batch). Jobs whose plans have the same
        frames and whose sampling settings are equal share every stage's forward passes;
        others run as batches of their own, one after another."""
        results: list[GeneratedAudio | Exception] = [RuntimeError("not run")] * len(jobs)
        # (key, its runs): compared with ==, not hashed (sampling settings may hold dicts).
        groups: list[tuple[object, list[tuple[int, _Run]]]] = []
        for index, job in enumerate(jobs):
            try:
                plan = self.plan(job.request, job.seconds)
                job.context.progress(0.02, "semantic")
            except Exception as error:  # this job's (a bad input, a cancel): not the others'
                results[index] = error
                _tell(job, error)
                continue
            run = _Run(job, plan, options_for(job.request),
                       torch.Generator().manual_seed(job.seed))
            key = (plan.frames, plan.prompt_frames, run.options)
            group = next((runs for k, runs in groups if k == key), None)
            if group is None:
                groups.append((key, group := []))
            group.append((index, run))
        for _, group in groups:
            outcomes = self._generate_group([run for _, run in group])
            for (index, _), outcome in zip(group, outcomes, strict=True):
                results[index] = outcome
        return results

    def _generate_group(self, runs: list[_Run]) -> list[GeneratedAudio | Exception]:
        """One batch of compatible runs through every stage; per run its result or error."""
        outcomes: dict[int, GeneratedAudio | Exception] = {}
        semantic: dict[int, torch.Tensor] = {}
        for n, run in enumerate(runs):
            kept = self._kept_semantic(run.request, run.plan)
            if kept is not None:
                semantic[n] = kept
        sampled, lanes = self._lanes(runs, [n for n in range(len(runs)) if n not in semantic],
                                     outcomes, lambda run, _: self._semantic_lane(
                                         run.request, run.plan, run.generator, run.job.context))
        if lanes:
            drawn = sample_lanes(self.semantic, lanes, runs[0].options)
            for n, tokens in zip(sampled, drawn, strict=True):
                if isinstance(tokens, Exception):
                    outcomes[n] = tokens
                else:
                    semantic[n] = tokens[:, 0]
        live, lanes = self._lanes(runs, [n for n in range(len(runs)) if n not in outcomes],
                                  outcomes, lambda run, n: self._coarse_lane(
                                      run.request, run.plan, semantic[n], run.generator,
                                      run.job.context))
        if not live:
            return [outcomes[n] for n in range(len(runs))]
        valid, frames = self._coarse_valid(runs[live[0]].plan)
        coarse: dict[int, torch.Tensor] = {}
        for n, tokens in zip(live, sample_lanes(self.coarse, lanes, runs[0].options, valid),
                             strict=True):
            if isinstance(tokens, Exception):
                outcomes[n] = tokens
            else:
                coarse[n] = undelayed(tokens, self.coarse.cfg.channels, frames)
        for n, audio in self._decode_batch(runs, coarse, outcomes).items():
            try:
                outcomes[n] = self._result(runs[n].request, runs[n].plan, semantic[n], audio)
            except Exception as error:  # finishing is per job: its error is its own
                outcomes[n] = runs[n].leave(error)
        return [outcomes[n] for n in range(len(runs))]

    @staticmethod
    def _lanes(runs: list[_Run], members: list[int],
               outcomes: dict[int, GeneratedAudio | Exception],
               lane_of: Callable[[_Run, int], Lane]) -> tuple[list[int], list[Lane]]:
        """Each member run's lane for a stage, its step callback watched; a run whose inputs
        cannot be built (its own bad input) leaves the batch with its error in ``outcomes``,
        and the others go on. Returns the runs that have a lane and their lanes."""
        built: list[int] = []
        lanes: list[Lane] = []
        for n in members:
            try:
                lane = lane_of(runs[n], n)
            except Exception as error:
                outcomes[n] = runs[n].leave(error)
                continue
            lane.on_step = runs[n].watched(lane.on_step)
            built.append(n)
            lanes.append(lane)
        return built, lanes

    def _decode_batch(self, runs: list[_Run], coarse: dict[int, torch.Tensor],
                      outcomes: dict[int, GeneratedAudio | Exception]
                      ) -> dict[int, np.ndarray]:
        """The fine stage and the codec over the coarse codes of every run still in the
        batch, each run's progress told (a cancel there takes it out, into ``outcomes``);
        per run, its decoded rows."""
        for stage, fraction in (("fine", 0.8), ("decode", 0.9)):
            for n in list(coarse):
                try:
                    runs[n].job.context.progress(fraction, stage)
                except Exception as error:
                    outcomes[n] = runs[n].leave(error)
                    del coarse[n]
            if stage == "fine" and coarse:
                order = list(coarse)
                inputs = [self._fine_inputs(runs[n].request, runs[n].plan, len(coarse[n]))
                          for n in order]
                codes = self._fine_pass(torch.cat([coarse[n] for n in order]),
                                        torch.cat([prefix for prefix, _ in inputs]),
                                        torch.cat([x for _, x in inputs]))
                coarse = dict(zip(order, codes.split([len(coarse[n]) for n in order]),
                                  strict=True))
        if not coarse:
            return {}
        order = list(coarse)
        skip = runs[order[0]].plan.prompt_frames * 2
        audio = self.codec.decode(torch.cat([coarse[n] for n in order])[..., skip:]).numpy()
        sizes = np.cumsum([len(coarse[n]) for n in order])[:-1]
        return dict(zip(order, np.split(audio, sizes), strict=True))

    def _kept_semantic(self, request: GenerationRequest, plan: Plan) -> torch.Tensor | None:
        """The semantic rows of a kept plan (after the continued clip's), or None to sample."""
        if plan.kept_semantic is None:
            return None
        semantic = torch.from_numpy(np.repeat(plan.kept_semantic, request.best_of, 0))
        if plan.prompt_semantic is not None:
            prompt = torch.from_numpy(plan.prompt_semantic)[None].expand(len(semantic), -1)
            semantic = torch.cat([prompt, semantic], dim=1)
        return semantic

    def _result(self, request: GenerationRequest, plan: Plan, semantic: torch.Tensor,
                audio: np.ndarray) -> GeneratedAudio:
        """A job's stems, finished, from its decoded rows (every candidate's)."""
        chosen = self.choose(request, plan, audio)

        rows = [row for row, c in enumerate(plan.candidate) if c in chosen]
        stems = {plan.names[row]: audio[row] for row in rows}
        kept = self.kept_plan(plan, semantic[chosen, plan.prompt_frames:].numpy())
        if self.stem_sound is not None:
            finished = finish_stems(stems, self.codec.cfg.sample_rate, self.stem_sound,
                                    kept_takes(request.keep_plan), kept_peaks(request.keep_plan))
            stems = finished.stems
            kept.update(plan_entries(finished.takes))  # for a later keep_plan
            kept.update(peak_entries(finished.peaks))
        mix = sum(stems[plan.names[row]] for row in rows if plan.candidate[row] == chosen[0])
        key = request.key or cond.key_name(plan.key) or self._estimate_key(mix)
        return GeneratedAudio(stems=stems, sample_rate=self.codec.cfg.sample_rate, key=key,
                              melody_midi=melody_clip(plan.melody_notes, request.bpm),
                              plan=kept)

    # ------------------------------------------------------------------ conditions

    def plan(self, request: GenerationRequest, seconds: float) -> Plan:
        """Resolve a request into conditions and rows."""
        unknown = [s for s in request.stems if ("pads" if s == "pad" else s) not in self.stems]
        if unknown:
            raise RequestError(f"stems: this model does not make {unknown[0]!r}; it makes "
                               f"{', '.join(self.stems)}")
        frames = int(np.ceil(seconds * SEMANTIC_RATE))
        mulan, key, kept = self._style(request)
        if kept is not None:
            if kept.shape[-1] < frames:
                raise RequestError(
                    f"keep_from: the kept plan lasts {kept.shape[-1] / SEMANTIC_RATE:.2f} s and "
                    f"this request needs {frames / SEMANTIC_RATE:.2f} s: ask for the tempo, bars "
                    "and loop setting the plan was made with")
            kept = kept[..., :frames]
        notes = request_melody(request)
        if key == cond.NULL_KEY and notes:
            # A tune given without a key: plan the accompaniment in the tune's key.
            key = cond.key_index(melody_key(notes))
        melody = melody_tokens(notes, frames, SEMANTIC_RATE) if notes else None
        prompt_semantic = prompt_codes = None
        if request.continue_from is not None:
            prompt_semantic, prompt_codes = self._prompt(request.continue_from)
        names = request.stem_names()
        # Rows: candidate-major, then stem (names are variation-major, then stem).
        per_candidate = len(request.stems)
        candidates = request.variations * request.best_of
        row_names = [names[(c // request.best_of) * per_candidate + s]
                     for c in range(candidates) for s in range(per_candidate)]
        stems = [cond.stem_index(n.split(".")[0], self.stems) for n in row_names]
        candidate = [row // per_candidate for row in range(len(row_names))]
        return Plan(mulan, key, frames, melody, notes, prompt_semantic, prompt_codes, kept,
                    row_names, stems, candidate)

    def _style(self, request: GenerationRequest) -> tuple[np.ndarray, int, np.ndarray | None]:
        """MuLan tokens, key and (with keep_plan) the kept semantic plan."""
        if request.keep_plan is not None:
            data = request.keep_plan
            if not {"semantic", "mulan", "key"} <= set(data):
                raise RequestError("keep_from: the plan was made by another model")
            kept = np.asarray(data["semantic"]).astype(np.int64)
            if len(kept) < request.variations:
                raise RequestError(f"keep_from: the plan holds {len(kept)} variations, "
                                   "fewer than asked")
            return np.asarray(data["mulan"]), int(data["key"]), kept[: request.variations]
        if request.reference is not None:
            audio = _read_input("reference", request.reference)
            embedding = self.mulan.mix([(1 - request.reference_weight, request.prompt),
                                        (request.reference_weight, (audio, SAMPLE_RATE))])
        else:
            embedding = self.mulan.embed_text([request.prompt])[0]
        return self.mulan.tokens(embedding), cond.key_index(request.key), None

    def _prompt(self, clip: AudioInput) -> tuple[np.ndarray, torch.Tensor]:
        """Semantic tokens and codes of the last PROMPT_SECONDS of the clip to continue."""
        audio = _read_input("continue_from", clip)
        hop = SAMPLE_RATE // SEMANTIC_RATE
        keep = min(int(PROMPT_SECONDS * SEMANTIC_RATE), audio.shape[1] // hop)
        if keep < 1:
            raise RequestError("continue_from: the clip is too short")
        audio = np.ascontiguousarray(audio[:, audio.shape[1] - keep * hop:])
        semantic = self.tokenizer.tokens(audio.mean(0))[:keep]
        codes = self.codec.encode(torch.from_numpy(audio)[None])[0, ..., : 2 * keep]
        return semantic, codes

    def _rows(self, request: GenerationRequest, plan: Plan, stems: list[int]
              ) -> dict[str, torch.Tensor]:
        """Prefix ids of [conditional rows; unconditional rows]: guidance drops MuLan and
        the key (both were dropped in training), so it pushes toward the prompt's style and
        the asked key alike (and, per frame, the melody and, for a ``guide_plan`` coarse
        stage, the semantic plan: see ``_frame_inputs``)."""
        rows = [cond.Conditions(plan.mulan, request.bpm, request.time_signature, plan.key, s)
                for s in stems]
        null = np.full_like(plan.mulan, cond.NULL_MULAN)
        rows += [replace(r, mulan=null, key=cond.NULL_KEY) for r in rows]
        return cond.prefix_ids(rows)

    def _frame_inputs(self, model: StageModel, request: GenerationRequest, plan: Plan, rows: int,
                      steps: int, rate: int, semantic: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """Per-step condition embeddings of [conditional; unconditional] rows, covering the
        clip being continued (at negative times) and the new frames."""
        per = rate // SEMANTIC_RATE
        prompt, frames = plan.prompt_frames * per, plan.frames * per
        timing = torch.from_numpy(cond.timing_features(
            prompt + frames, rate, request.bpm, request.time_signature, -prompt / rate,
            frames / rate))
        melody = np.concatenate([np.full(plan.prompt_frames, NO_MELODY),
                                 cond.melody_or_null(plan.melody, plan.frames)])
        melody = torch.from_numpy(np.repeat(melody, per))
        batch = {"timing": timing[None].expand(2 * rows, -1, -1),
                 "melody": torch.cat([melody[None].expand(rows, -1),
                                      torch.full((rows, len(melody)), NO_MELODY)])}
        if semantic is not None:
            tokens = semantic.repeat_interleave(per, dim=1)
            unguided = torch.full_like(tokens, -1) if model.cfg.guide_plan else tokens
            batch["semantic"] = torch.cat([tokens, unguided])
        return model.frame_inputs(batch, steps)

    # ------------------------------------------------------------------ stages

    def sample_semantic(self, request: GenerationRequest, plan: Plan, options: SamplingOptions,
                        generator: torch.Generator, context: JobContext) -> torch.Tensor:
        """(candidates, prompt + new frames) semantic tokens: the plan every stem follows."""
        lane = self._semantic_lane(request, plan, generator, context)
        return sample_causal(self.semantic, lane.prefix, lane.frame_inputs, options, generator,
                             forced=lane.forced, on_step=lane.on_step, prior=lane.prior)[:, 0]

    def _semantic_lane(self, request: GenerationRequest, plan: Plan,
                       generator: torch.Generator, context: JobContext) -> Lane:
        """The semantic stage's inputs for one request."""
        rows = request.variations * request.best_of
        prefix = self.semantic.conditions.prefix(
            self._rows(request, plan, [cond.stem_index("mix", self.stems)] * rows))
        steps = plan.prompt_frames + plan.frames
        x = self._frame_inputs(self.semantic, request, plan, rows, steps, SEMANTIC_RATE)
        forced = None
        if plan.prompt_semantic is not None:
            forced = torch.from_numpy(plan.prompt_semantic)[None, None].expand(rows, 1, -1)

        def report(t: int, _: torch.Tensor) -> None:
            context.progress(0.02 + 0.18 * (t + 1) / steps, "semantic")

        prior = key_prior(self.tokenizer, plan.key, self.key_strength)
        return Lane(prefix, x, generator, forced, prior, report)

    def sample_coarse(self, request: GenerationRequest, plan: Plan, semantic: torch.Tensor,
                      options: SamplingOptions, generator: torch.Generator,
                      context: JobContext) -> torch.Tensor:
        """(rows, channels, coarse levels, frames) codes of every acoustic row (the clip
        being continued included), previewing the mix so far about once a second."""
        lane = self._coarse_lane(request, plan, semantic, generator, context)
        valid, frames = self._coarse_valid(plan)
        tokens = sample_causal(self.coarse, lane.prefix, lane.frame_inputs, options, generator,
                               valid, lane.forced, lane.on_step, guidance=lane.guidance)
        return undelayed(tokens, self.coarse.cfg.channels, frames)

    def _coarse_valid(self, plan: Plan) -> tuple[Callable[[int], torch.Tensor], int]:
        """Which coarse streams carry a real token at each step (the delay pattern), and
        the coarse frames (the clip being continued included)."""
        cfg = self.coarse.cfg
        frames = (plan.prompt_frames + plan.frames) * 2
        levels = torch.arange(cfg.streams) // cfg.channels

        def valid(t: int) -> torch.Tensor:
            return (t - levels >= 0) & (t - levels < frames)

        return valid, frames

    def _coarse_lane(self, request: GenerationRequest, plan: Plan, semantic: torch.Tensor,
                     generator: torch.Generator, context: JobContext) -> Lane:
        """The coarse stage's inputs for one request, its step callback reporting progress
        and previewing its mix."""
        cfg = self.coarse.cfg
        frames = (plan.prompt_frames + plan.frames) * 2
        steps = frames + cfg.coarse_levels - 1
        rows = len(plan.names)
        prefix = self.coarse.conditions.prefix(self._rows(request, plan, plan.stems))
        x = self._frame_inputs(self.coarse, request, plan, rows, steps, ACOUSTIC_RATE,
                               semantic[plan.candidate])
        forced = self._forced_coarse(plan, rows)
        previewer = _Previewer(self.codec, plan, self.stem_sound,
                               kept_takes(request.keep_plan))

        def on_step(t: int, tokens: torch.Tensor) -> None:
            context.progress(0.2 + 0.6 * (t + 1) / steps, "coarse")
            ready = t - cfg.coarse_levels + 2  # frames whose every coarse level is known
            last = t == steps - 1
            if last or preview_due(ready - 2 * plan.prompt_frames):
                mix = previewer.push(undelayed(tokens[..., : t + 1], cfg.channels, ready), last)
                if mix is not None:
                    context.preview(mix, self.codec.cfg.sample_rate)

        guidance = row_guidance([family_of(name) for name in plan.names], request.guidance)
        return Lane(prefix, x, generator, forced, None, on_step, guidance)

    def _forced_coarse(self, plan: Plan, rows: int) -> torch.Tensor | None:
        """The continued clip's coarse codes, forced on the 'mix' rows (stems have no codes
        of their own to continue; they follow the continued plan)."""
        if plan.prompt_codes is None:
            return None
        levels = self.coarse.cfg.coarse_levels
        streams = delayed(plan.prompt_codes[None, :, :levels], -1)[..., : 2 * plan.prompt_frames]
        forced = torch.full((rows, *streams.shape[1:]), -1, dtype=torch.long)
        mix = cond.stem_index("mix", self.stems)
        for row, stem in enumerate(plan.stems):
            if stem == mix:
                forced[row] = streams[0]
        return forced

    def sample_fine(self, request: GenerationRequest, plan: Plan, coarse: torch.Tensor
                    ) -> torch.Tensor:
        """(rows, channels, levels, frames): the fine levels, one level per pass over chunks
        of frames (each chunk sees FINE_CONTEXT frames either side); without a fine stage,
        the coarse levels alone."""
        return self._fine_pass(coarse, *self._fine_inputs(request, plan, len(coarse)))

    def _fine_inputs(self, request: GenerationRequest, plan: Plan, rows: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The fine stage's prefix and per-frame inputs of one request's ``rows`` (empty
        without a fine stage)."""
        if self.fine is None:
            return torch.empty(0), torch.empty(0)
        frames = (plan.prompt_frames + plan.frames) * 2
        ids = self._rows(request, plan, plan.stems)
        prefix = self.fine.conditions.prefix({k: v[:rows] for k, v in ids.items()})
        x = self._frame_inputs(self.fine, request, plan, rows, frames, ACOUSTIC_RATE)[:rows]
        return prefix, x

    def _fine_pass(self, coarse: torch.Tensor, prefix: torch.Tensor, x: torch.Tensor
                   ) -> torch.Tensor:
        """The fine levels of ``coarse`` codes given the rows' prefix and frame inputs (the
        coarse levels alone without a fine stage)."""
        if self.fine is None:
            return coarse
        cfg = self.fine.cfg
        rows, channels, _, frames = coarse.shape
        codes = torch.full((rows, channels, cfg.codec_levels, frames), self.fine.pad)
        codes[:, :, : cfg.coarse_levels] = coarse
        core = cfg.max_len - prefix.shape[1] - 2 * FINE_CONTEXT
        for level in range(cfg.coarse_levels, cfg.codec_levels):
            for start in range(0, frames, core):
                lo, hi = max(0, start - FINE_CONTEXT), min(frames, start + core + FINE_CONTEXT)
                logits = self.fine.fine_logits(prefix, x[:, lo:hi], codes[..., lo:hi], level)
                best = logits.argmax(-1).permute(0, 2, 1)  # (rows, channels, frames)
                end = min(frames, start + core)
                codes[:, :, level, start:end] = best[..., start - lo : end - lo]
        return codes

    # ------------------------------------------------------------------ results

    def choose(self, request: GenerationRequest, plan: Plan, audio: np.ndarray) -> list[int]:
        """The kept candidate of each variation: with best-of, the one whose mix MuLan
        rates closest to the prompt."""
        if request.best_of == 1:
            return list(range(request.variations))
        text = self.mulan.embed_text([request.prompt])[0]
        chosen = []
        for variation in range(request.variations):
            candidates = range(variation * request.best_of, (variation + 1) * request.best_of)
            scores = []
            for c in candidates:
                mix = sum(audio[r] for r, k in enumerate(plan.candidate) if k == c)
                scores.append(float(self.mulan.embed_audio(mix, SAMPLE_RATE) @ text))
            chosen.append(candidates[int(np.argmax(scores))])
        return chosen

    @staticmethod
    def kept_plan(plan: Plan, semantic: np.ndarray) -> KeptPlan:
        """What a later request needs to keep this plan (its ``keep_plan``): the semantic
        tokens (variations, frames) of the kept candidates, the style and the key."""
        return {"semantic": semantic.astype(np.int16), "mulan": plan.mulan,
                "key": np.int64(plan.key)}

    def _estimate_key(self, mix: np.ndarray) -> str:
        """The key heard in the generated mix (when the request left it to the model)."""
        return estimate_key(self._features(mix.mean(axis=0))[:, :12].sum(axis=0))


def _read_input(field: str, value: AudioInput) -> np.ndarray:
    """(2, samples) audio at the codec's rate of a request's input, or a RequestError."""
    return read_input(field, value, SAMPLE_RATE, limits.MAX_INPUT_SECONDS)


def preview_due(new: int) -> bool:
    """Whether a preview is made once ``new`` coarse frames of new music are known."""
    if new < FIRST_PREVIEW_FRAMES:
        return False
    if new < PREVIEW_EVERY_FRAMES:
        return (new - FIRST_PREVIEW_FRAMES) % EARLY_PREVIEW_FRAMES == 0
    return new % PREVIEW_EVERY_FRAMES == 0


class _Previewer:
    """Decodes the coarse codes of the first candidate's rows as they come; their sum,
    finished as far as the audio so far tells (``PreviewFinisher``, with the model's
    ``stem_sound``), is the mix a producer hears. Each chunk is decoded with the codec's
    full context before it and PREVIEW_LOOKAHEAD frames after it (the last one with all
    there is); audio once previewed stays as it was sent."""

    def __init__(self, codec: Codec, plan: Plan,
                 reference: dict[str, dict[str, float]] | None = None,
                 kept: dict[int, Mastering] | None = None) -> None:
        self.codec = codec
        self.context = context_frames(codec.cfg)
        self.hop = codec.cfg.hop
        self.done = plan.prompt_frames * 2  # frames previewed (the continued clip is not new)
        self.chunks: list[np.ndarray] = []
        self.rows = [row for row, c in enumerate(plan.candidate) if c == 0]
        self.finisher = None if reference is None else PreviewFinisher(
            [plan.names[row] for row in self.rows], codec.cfg.sample_rate, reference,
            kept)

    def push(self, coarse: torch.Tensor, final: bool = False) -> np.ndarray | None:
        """Decode the frames known well enough (``final``: all of them) that were not yet
        decoded; the whole mix so far, or None if none yet."""
        known = coarse.shape[-1]
        end = known if final else known - PREVIEW_LOOKAHEAD
        if end > self.done:
            lo = max(0, self.done - self.context)
            audio = self.codec.decode(coarse[self.rows, :, :, lo:known])
            rows = audio[..., (self.done - lo) * self.hop : (end - lo) * self.hop].numpy()
            self.done = end
            self.chunks.append(rows.sum(0) if self.finisher is None else self.finisher(rows))
        return np.concatenate(self.chunks, axis=1) if self.chunks else None


def load_default(directory: Path | None = None) -> HierarchicalGenerator:
    """The shipped generator (or the one in ``directory``) with the shipped codec and MuLan."""
    from engine.codec.io import load_codec
    from engine.generator.io import DEFAULT_DIR, load_stages

    folder = directory or DEFAULT_DIR
    stages, tokenizer = load_stages(folder)
    generator = HierarchicalGenerator(stages, tokenizer, load_codec(), MulanConditioner.load())
    generator.stem_sound = load_reference(folder)
    return generator
