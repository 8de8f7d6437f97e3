"""`run`: one training run in its run folder: the folder's lock, the event stream, the session, the loop, and what
the run reports when it ends (completed, stopped, or failed with an error the editor can show and an exit code).
The pieces: session.py (what one process holds), loop.py (the steps and their cadence), objectives/ (data, loss
and eval of SFT), lifecycle/ (lock, checkpoints, resume, fingerprint, full disk), distributed.py (rank, device)."""

from __future__ import annotations

import gc
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import exit_codes
from .data.readers import DataError
from .distributed import peer_lost, rank_from_env
from .events import EventWriter, SilentEvents
from .lifecycle.disk import DiskFull
from .lifecycle.run_folder import RunFolder, RunFolderGone, RunFolderLocked
from .plan import PlanError, TrainingPlan, read_plan
from .problems import ConfigProblem
from .stop import StopFlag
from .streams import QuietStreamHandler, say

if TYPE_CHECKING:
    import torch

    from .distributed import Placement
    from .loop import Finished
    from .parallel import Single
    from .session import Session

__all__ = ["ConfigProblem", "Trainer", "run"]

EXIT_OK, EXIT_FAILED, EXIT_OOM = exit_codes.OK, exit_codes.FAILED, exit_codes.OOM
log = logging.getLogger("lora_lens_trainer")


def setup_logging(run_dir: Path, rank: int = 0) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    name = "trainer.log" if rank == 0 else f"trainer-rank{rank}.log"
    for handler in (logging.FileHandler(run_dir / name, encoding="utf-8"), QuietStreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        log.addHandler(handler)


def close_logging() -> None:
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


def run(
    plan_path: Path,
    run_dir: Path,
    resume: bool,
    estimate_peak_bytes: float | None = None,
    resume_anyway: bool = False,
    estimate_tokens_per_second: float | None = None,
) -> int:
    from .modeling import set_offline

    set_offline()
    try:
        rank = rank_from_env()
    except ValueError as error:
        say(f"lora_lens_trainer: {error}")
        return EXIT_FAILED
    if rank != 0:
        # Under torchrun, rank 0 holds the folder's lock and writes its events and files; the others train beside it.
        return _run_follower(plan_path, run_dir, rank, resume or resume_anyway, resume_anyway)
    try:
        folder = RunFolder.claim(run_dir)
    except RunFolderLocked as error:
        # Not a word into the folder: its events and files belong to the trainer that holds it.
        say(f"lora_lens_trainer: {error}")
        return exit_codes.LOCKED
    setup_logging(run_dir)
    events = EventWriter(run_dir / "events.jsonl", echo=sys.stdout)
    folder.watch(events.path, events.fileno())
    stop = StopFlag()
    stop.install()
    try:
        try:
            plan = read_plan(plan_path)
        except PlanError as error:
            events.emit("error", kind="config", message=str(error), advice=[])
            events.emit("end", status="failed", step=0, final_loss=None, adapter_path=None)
            return EXIT_FAILED
        trainer = Trainer(plan, run_dir, events, stop, estimate_peak_bytes, resume_anyway, folder)
        trainer.estimate_tokens_per_second = estimate_tokens_per_second
        return trainer.run(resume or resume_anyway)
    finally:
        stop.uninstall()
        events.close()
        close_logging()
        folder.release()


def _run_follower(plan_path: Path, run_dir: Path, rank: int, resume: bool, resume_anyway: bool) -> int:
    """A rank other than 0: the same training, its events dropped (rank 0 reports for all), its log beside."""
    setup_logging(run_dir, rank)
    stop = StopFlag()
    stop.install()
    try:
        plan = read_plan(plan_path)  # rank 0 reports a bad plan; this rank only ends
        return Trainer(plan, run_dir, SilentEvents(), stop, None, resume_anyway).run(resume)
    except PlanError as error:
        log.error("%s", error)
        return EXIT_FAILED
    finally:
        stop.uninstall()
        close_logging()


class Trainer:
    def __init__(
        self,
        plan: TrainingPlan,
        run_dir: Path,
        events: EventWriter,
        stop: StopFlag,
        estimate_peak_bytes: float | None,
        resume_anyway: bool = False,
        folder: RunFolder | None = None,
    ) -> None:
        from .session import Tally

        self.plan, self.run_dir, self.events, self.stop = plan, run_dir, events, stop
        self.folder = folder
        self.estimate = estimate_peak_bytes
        # The throughput model's figure (server/src/throughput), echoed in the start event for the panel's prediction.
        self.estimate_tokens_per_second: float | None = None
        self.resume_anyway = resume_anyway
        self.started = time.time()
        self.tally = Tally()
        self.placement: Placement | None = None
        self.parallel: Single | None = None

    def run(self, resume: bool) -> int:
        try:
            return self._run(resume)
        finally:
            if self.parallel is not None:
                self.parallel.close()

    def _run(self, resume: bool) -> int:
        import torch

        from .model_fetch import DownloadStopped
        from .modeling import ModelError

        try:
            finished = self._train(resume)
        except torch.OutOfMemoryError as error:
            return self._oom(error)
        except RunFolderGone as error:
            return self._folder_gone(error)
        except DiskFull as error:
            log.error("%s", error)
            # The schema's error kinds have no `disk` yet: a full disk is the machine's, so `environment`.
            self.events.emit("error", kind="environment", message=str(error), step=self.tally.step, advice=error.advice)
            return self._end("failed", None, EXIT_FAILED)
        except (DataError, ModelError, PlanError) as error:
            kind = "data" if isinstance(error, DataError) else "model" if isinstance(error, ModelError) else "config"
            log.error("%s", error)
            self.events.emit(
                "error", kind=kind, message=str(error), step=self.tally.step, advice=getattr(error, "advice", [])
            )
            return self._end("failed", None, EXIT_FAILED)
        except KeyboardInterrupt:
            log.error("stopped by a second signal before the checkpoint was written; the previous checkpoint is intact")
            return self._end("stopped", None, EXIT_OK)
        except DownloadStopped as error:
            log.info("stopped while downloading %s; the files fetched whole stay in the cache for the next run", error)
            return self._end("stopped", None, EXIT_OK)
        except Exception as error:  # the stream must end with an event the editor can show
            if peer_lost(error):
                return self._peer_lost(error)
            log.exception("internal error")
            self.events.emit(
                "error", kind="internal", message=f"{type(error).__name__}: {error}", step=self.tally.step, advice=[]
            )
            return self._end("failed", None, EXIT_FAILED)
        main = self.parallel is None or self.parallel.is_main
        if finished.status == "completed" and self.plan.output.merge and self.plan.method != "full" and main:
            self._merge_after_training(finished)
        try:
            self._check_folder()
        except RunFolderGone as error:
            return self._folder_gone(error)
        return self._end(finished.status, finished.adapter_path, EXIT_OK, finished.elapsed_s)

    @property
    def device(self) -> torch.device | None:
        return None if self.placement is None else self.placement.device

    def _end(self, status: str, adapter: Path | None, code: int, elapsed: float | None = None) -> int:
        self.events.emit(
            "end",
            status=status,
            step=self.tally.step,
            final_loss=self.tally.last_loss,
            elapsed_s=round(elapsed if elapsed is not None else time.time() - self.started, 3),
            adapter_path=None if adapter is None else str(adapter),
        )
        return code

    def _check_folder(self) -> None:
        if self.folder is not None:
            self.folder.check()

    def _folder_gone(self, error: RunFolderGone) -> int:
        """Whoever deleted the folder wants it gone: nothing is recreated in it. The stdout echo, if anyone
        still reads it, gets the failure; stderr gets the reason (once: trainer.log went with the folder)."""
        self.events.detach()
        close_logging()
        say(f"lora_lens_trainer: {error}")
        self.events.emit("error", kind="environment", message=str(error), step=self.tally.step, advice=[])
        return self._end("failed", None, EXIT_FAILED)

    def _peer_lost(self, error: BaseException) -> int:
        log.error("a collective failed: %s", error)
        self.events.emit(
            "error",
            kind="environment",
            step=self.tally.step,
            message=f"another training process of this run failed or was stopped, so this one ends too "
            f"({type(error).__name__}: {str(error).splitlines()[0][:300]})",
            advice=[
                "the first failing rank's reason is in the launcher's output (torchrun names the "
                "rank) and in trainer-rank<N>.log in the run folder",
                "once it is fixed, continue from the last checkpoint with --resume",
            ],
        )
        return self._end("failed", None, EXIT_FAILED)

    def _oom(self, error: BaseException) -> int:
        from . import memory

        figures = memory.figures(self.device)
        total = memory.total_bytes(self.device)
        message = f"CUDA out of memory at step {self.tally.step + 1}: {str(error).splitlines()[0]}"
        log.error("%s", message)
        self.events.emit(
            "error",
            kind="oom",
            message=message,
            step=self.tally.step,
            advice=memory.oom_advice(self.plan, self.estimate, total),
            memory={
                "allocated_bytes": figures["allocated_bytes"],
                "reserved_bytes": figures["reserved_bytes"],
                "peak_allocated_bytes": figures["peak_allocated_bytes"],
                "total_bytes": total,
                "estimate_peak_bytes": self.estimate,
            },
        )
        return self._end("failed", None, EXIT_OOM)

    def _place(self) -> Placement:
        from .distributed import limit_memory, placement, start_group

        found = placement()
        start_group(found)
        if found.device.type != "cuda" and found.is_main:
            self.events.emit(
                "warning",
                kind="no_cuda",
                message="no CUDA GPU is visible: training on the CPU, which is slow (fine for tiny "
                "models and tests; a 7B model would take hours per step)",
            )
        limit_memory(found.device)
        return found

    def _train(self, resume: bool) -> Finished:
        """The session lives only in this call: once it returns, the model and optimizer can be collected."""
        from .lifecycle.resume import resume as resume_from
        from .loop import TrainingLoop
        from .model_fetch import fetch_model
        from .objectives import objective_for
        from .parallel import parallel_for
        from .session import build

        # Before the process group: every rank fetches (huggingface_hub's file locks let one write each file), so no
        # collective waits out a long download.
        fetch_model(self.plan.model, self.events, self.stop)
        self.placement = self._place()
        self.parallel = parallel_for(self.plan, self.placement)
        session = build(
            self.plan,
            self.placement,
            objective_for(self.plan),
            lambda kind, message: self.events.emit("warning", kind=kind, message=message),
            self.parallel,
            lambda **fields: self.events.emit("loading", **fields),
        )
        resumed_from = None
        if resume:
            resumed_from = self.tally.step = resume_from(
                session, self.run_dir / "checkpoints", self.events, self.resume_anyway
            )
        self._emit_start(session, resumed_from)
        loop = TrainingLoop(
            self.plan, session, self.events, self.stop, self.run_dir, self.tally, self.started, self._check_folder
        )
        return loop.run()

    def _emit_start(self, s: Session, resumed_from: int | None) -> None:
        import torch

        from . import memory
        from .modeling import count_params

        plan = self.plan
        trainable, total_params = count_params(s.model)
        gpu = None
        if s.device.type == "cuda":
            gpu = {"name": torch.cuda.get_device_name(s.device), "memory_bytes": memory.total_bytes(s.device)}
        self.events.emit(
            "start",
            run_id=self.run_dir.name,
            total_steps=s.total,
            num_train_rows=s.data.num_train_rows,
            num_eval_rows=s.data.num_eval_rows,
            method=plan.method,
            model=plan.model.name_or_path,
            trainable_params=trainable,
            total_params=total_params,
            estimate_peak_bytes=self.estimate,
            estimate_tokens_per_second=self.estimate_tokens_per_second,
            gpu=gpu,
            quantization_backend=s.setup.quantization_backend,
            resumed_from_step=resumed_from,
        )
        if s.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(s.device)

    def _merge_after_training(self, finished: Finished) -> None:
        """The training session is out of scope here; collect it and empty the allocator's cache first, so the
        merge has the memory a standalone `merge` would have. A failure is a warning: the adapter is saved."""
        import torch

        from .merge import merge

        gc.collect()
        device = self.device
        if device is not None and device.type == "cuda":
            torch.cuda.empty_cache()
            log.info(
                "before the merge: %d bytes allocated, %d reserved",
                torch.cuda.memory_allocated(device),
                torch.cuda.memory_reserved(device),
            )
        try:
            report = merge(self.run_dir, self.plan, quantization_backend=finished.quantization_backend)
            log.info("merged: %s", report)
        except (Exception, KeyboardInterrupt) as error:
            log.exception("merge failed")
            self.events.emit(
                "warning",
                kind="merge",
                message=f"the merge failed ({type(error).__name__}: {str(error)[:400]}); the adapter is "
                f"saved at {finished.adapter_path}: merge it later with `python -m "
                f"lora_lens_trainer merge --run-dir {self.run_dir}`",
            )
