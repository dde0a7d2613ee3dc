"""`build`: a Dockerfile run step by step into images, as Docker's classic builder does.

Every step makes an image whose parent is the image before it; config-only steps make
an empty layer (`empty_layer` in the history), COPY/ADD a layer written from an overlay
of the parent, RUN a layer committed from a real container on fabric's own runtime.
A step's cache key is its parent image plus its history line, which for COPY/ADD holds
the hash of the files it reads and for RUN the build arguments it sees: the same step
on the same parent is "Using cache", as Docker's. Tags go on only once every step of
the target stage succeeded, so a failed build tags nothing.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from dataclasses import dataclass, field

from fabric.builder import copying, dockerfile, metadata, words
from fabric.builder.context import Tree
from fabric.builder.dockerfile import Dockerfile, DockerfileError, Instruction, Stage
from fabric.builder.ignore import Ignore
from fabric.builder.mount import mounted
from fabric.errors import FabricError, InvalidArgument, NotFound
from fabric.images.archive import Work
from fabric.images.importer import now_rfc3339
from fabric.images.platform import native
from fabric.images.progress import Emit
from fabric.images.store import normalize_ref, valid_ref

CACHE_KEY = "build-cache:"


class RunFailed(FabricError):
    """A RUN step exited non-zero: Docker's message, and its code as the build's."""

    def __init__(self, command: str, code: int):
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")
        self.exit_code = code


@dataclass
class Options:
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    pull: object = None         # pull(name, emit) -> image id, for a FROM not stored


@dataclass
class State:
    """Where a stage stands: its current image and that image's config."""

    image_id: str
    cfg: dict
    meta: metadata.Meta


def _scratch_config() -> dict:
    p = native()
    return {"architecture": p.architecture, "os": p.os, "config": {},
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


class Builder:
    def __init__(self, engine, context_dir: str, df: Dockerfile, opts: Options, emit: Emit,
                 work: Work):
        self.engine, self.images = engine, engine.images
        self.df, self.opts, self.emit, self.work = df, opts, emit, work
        self.context = Tree(context_dir, Ignore.of_context(context_dir))
        self.results: dict[int, str] = {}
        self.used_args: set[str] = set()
        self.step, self.total = 0, 0

    def say(self, text: str) -> None:
        self.emit({"stream": text})

    # ---- the build --------------------------------------------------------------------
    def run(self) -> str:
        for t in self.opts.tags:
            if not valid_ref(t) or "@" in t:
                raise InvalidArgument(f"invalid reference format: {t!r} (use [HOST[:PORT]/]"
                                      "NAME[:TAG], lower-case)")
        stages = self._stages()
        if self.opts.labels:        # as Docker: --label is a LABEL step at the very end
            last = stages[-1]
            args = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in
                            sorted(self.opts.labels.items()))
            last.body.append(Instruction("LABEL", args, last.from_.line, f"LABEL {args}"))
        self.total = sum(1 + len(s.body) for s in stages)
        global_env = self._global_args()
        image_id = ""
        for stage in stages:
            image_id = self._stage(stage, global_env)
            self.results[stage.index] = image_id
        unused = sorted(set(self.opts.build_args) - self.used_args)
        if unused:
            self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not "
                     "consumed\n")
        self.emit({"aux": {"ID": image_id}})
        self.say(f"Successfully built {image_id[7:19]}\n")
        with self.images.lock:
            for t in self.opts.tags:
                self.images.tag(image_id, t)
        for t in self.opts.tags:
            self.say(f"Successfully tagged {normalize_ref(t)}\n")
        return image_id

    def _stages(self) -> list[Stage]:
        if not self.opts.target:
            return self.df.stages
        target = self.df.stage(self.opts.target)
        if target is None or not target.name:
            raise InvalidArgument(f"failed to reach build target {self.opts.target} in "
                                  "Dockerfile")
        return self.df.stages[:target.index + 1]

    def _global_args(self) -> dict[str, str]:
        """ARGs before the first FROM: visible to FROM lines (and re-declared inside)."""
        meta = metadata.Meta({}, self.df.escape, self.opts.build_args)
        for ins in self.df.global_args:
            self._guard(ins, lambda ins=ins: meta.do_arg(ins))
        self.used_args |= meta.used_args
        return {k: v for k, v in meta.args.items() if v is not None}

    def _guard(self, ins: Instruction, fn):
        """Run a step; errors of the Dockerfile's making name its file and line."""
        try:
            return fn()
        except (DockerfileError, RunFailed):
            raise
        except InvalidArgument as e:
            raise DockerfileError(self.df.file, ins.line, e.message) from None

    def _stage(self, stage: Stage, global_env: dict[str, str]) -> str:
        self.step += 1
        self.say(f"Step {self.step}/{self.total} : {stage.from_.original}\n")
        state = self._guard(stage.from_, lambda: self._from(stage, global_env))
        if state.image_id:
            self.say(f" ---> {state.image_id[7:19]}\n")
        self._triggers(state)
        for ins in stage.body:
            self.step += 1
            self.say(f"Step {self.step}/{self.total} : {ins.original}\n")
            if ins.cmd == "ARG":
                self._declare_global(state, ins, global_env)
            self._guard(ins, lambda ins=ins: self._do(state, ins))
        self.used_args |= state.meta.used_args
        if not state.image_id:
            raise InvalidArgument("the build produced no image: a stage FROM scratch needs "
                                  "at least one instruction")
        return state.image_id

    def _declare_global(self, state: State, ins: Instruction, global_env: dict) -> None:
        """`ARG NAME` inside a stage takes the global ARG's value as its default."""
        for w in words.split(ins.args, self.df.escape):
            if "=" not in w and w in global_env and w not in self.opts.build_args:
                state.meta.build_args = {**state.meta.build_args, w: global_env[w]}

    def _from(self, stage: Stage, global_env: dict[str, str]) -> State:
        name = words.process(stage.base, global_env, self.df.escape)
        earlier = self.df.stage(name) if name.lower() != "scratch" else None
        if name.lower() == "scratch":
            image_id, cfg = "", _scratch_config()
        elif earlier is not None and earlier.index in self.results:
            image_id = self.results[earlier.index]
            cfg = self.images.config(image_id)
        else:
            image_id = self._base_image(name)
            cfg = self.images.config(image_id)
        cfg = copy.deepcopy(cfg)
        meta = metadata.Meta(cfg.setdefault("config", {}) or {}, self.df.escape,
                             self.opts.build_args)
        cfg["config"] = meta.config
        return State(image_id, cfg, meta)

    def _base_image(self, name: str) -> str:
        try:
            return self.images.resolve(name)
        except NotFound:
            if self.opts.pull is None or not valid_ref(name):
                raise
        return self.opts.pull(name, self.emit)  # type: ignore[operator]

    def _triggers(self, state: State) -> None:
        triggers = list(state.meta.config.get("OnBuild") or [])
        if not triggers:
            return
        self.say(f"# Executing {len(triggers)} build trigger"
                 f"{'s' if len(triggers) > 1 else ''}\n")
        state.meta.config["OnBuild"] = None
        for text in triggers:
            ins = dockerfile.parse(f"FROM scratch\n{text}\n", "ONBUILD trigger").stages[0].body[0]
            self._guard(ins, lambda ins=ins: self._do(state, ins))

    # ---- one step ---------------------------------------------------------------------
    def _do(self, state: State, ins: Instruction) -> None:
        if metadata.Meta.handles(ins.cmd):
            created_by = state.meta.apply(ins)
            self._commit_or_cache(state, created_by, None)
        elif ins.cmd == "RUN":
            self._run(state, ins)
        else:
            self._copy(state, ins)

    def _cache_key(self, parent: str, created_by: str) -> str:
        return CACHE_KEY + hashlib.sha256(f"{parent}\n{created_by}".encode()).hexdigest()

    def _cached(self, state: State, created_by: str) -> bool:
        if self.opts.no_cache:
            return False
        hit = self.engine.store.kv_get(self._cache_key(state.image_id, created_by))
        if not hit or not self.images.exists(hit):
            return False
        state.image_id = hit
        state.cfg = copy.deepcopy(self.images.config(hit))
        state.meta.config = state.cfg.setdefault("config", {}) or {}
        state.cfg["config"] = state.meta.config
        self.say(f" ---> Using cache\n ---> {hit[7:19]}\n")
        return True

    def _commit_or_cache(self, state: State, created_by: str, make_layer) -> None:
        """Reuse the cached image of this step, or run make_layer(tar path) (None for a
        config-only step) and register the new image."""
        if self._cached(state, created_by):
            return
        tar = None
        if make_layer is not None:
            tar = self.work.path(f"layer-{self.step}.tar")
            make_layer(tar)
        cfg = state.cfg
        created = now_rfc3339()
        entry: dict = {"created": created, "created_by": created_by}
        if tar is None:
            entry["empty_layer"] = True
        cfg["created"] = created
        if state.meta.author:
            cfg["author"] = state.meta.author
        cfg["config"] = state.meta.config
        cfg["config"]["Image"] = state.image_id
        cfg["history"] = list(cfg.get("history") or []) + [entry]
        with self.images.lock:
            try:
                if tar is not None:
                    diff_id, _ = self.work.add_layer_file(tar)
                    cfg["rootfs"] = {"type": "layers", "diff_ids": list(
                        cfg.get("rootfs", {}).get("diff_ids", [])) + [diff_id]}
                blob = json.dumps(cfg, separators=(",", ":")).encode()
                image_id = self.images.register(blob, parent=state.image_id)
            except BaseException:
                self.work.rollback()
                raise
            self.work.new_layers = []      # registered: no longer this build's to undo
        self.engine.store.kv_set(self._cache_key(state.image_id, created_by), image_id)
        state.image_id = image_id
        self.say(f" ---> {image_id[7:19]}\n")

    def _run(self, state: State, ins: Instruction) -> None:
        if not state.image_id:
            raise InvalidArgument("RUN needs a base image with a shell (this stage is FROM "
                                  "scratch with nothing in it yet)")
        argv = state.meta.command(ins)
        run_args = state.meta.run_args()
        prefix = f"|{len(run_args)} {' '.join(run_args)} " if run_args else ""
        created_by = prefix + " ".join(argv)
        from fabric.builder.run_step import run_in_container
        self._commit_or_cache(state, created_by, lambda tar: run_in_container(
            self.engine, state.image_id, argv, run_args, self.say, tar))

    def _copy(self, state: State, ins: Instruction) -> None:
        form = ins.exec_form()
        items = [state.meta.expand_one(x) for x in form] if form is not None \
            else state.meta.expand(ins.args)
        srcs, dest = copying.check_sources(ins.cmd, items)
        dest = copying.destination(dest, state.meta.config.get("WorkingDir") or "/")
        chown = ins.flags.get("chown", "")
        with contextlib.ExitStack() as stack:
            tree = self.context
            if "from" in ins.flags:
                tree = Tree(stack.enter_context(mounted(
                    self.images, self._from_image(ins.flags["from"]), self.work.dir)).root,
                    what=f"stage {ins.flags['from']}")
            sources = [s for p in srcs for s in tree.sources(p, ins.cmd)]
            text = f"{ins.cmd} {tree.digest(sources)} in {dest} "
            created_by = state.meta.nop(text, two_spaces=False)

            def make(tar: str) -> None:
                with mounted(self.images, state.image_id, self.work.dir) as mnt:
                    copying.copy(ins.cmd, mnt, tree, sources, dest, chown, self.work.dir)
                    mnt.layer(tar)
            self._commit_or_cache(state, created_by, make)

    def _from_image(self, ref: str) -> str:
        """COPY --from=: an earlier stage (name or number), else an image."""
        stage = self.df.stage(ref)
        if stage is not None:
            if stage.index not in self.results:
                raise InvalidArgument(f"COPY --from={ref}: the stage is not built before "
                                      "this one (stages are built in order)")
            return self.results[stage.index]
        return self._base_image(ref)
