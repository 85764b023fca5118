"""Fault matrix of the commands besides synth / verify / render: one red line, the right exit code, nothing lost.

Per command, each fault class of the issue "Never lose a user's data, never print a traceback":

1. a missing input, a file where a folder is expected and a folder where a file is expected;
2. a malformed input (garbage checkpoint or weights, garbage / empty YAML, truncated PNG, bad score array);
3. an output that is an existing folder, or a path under a regular file;
4. the output file system failing (the atomic rename raises ENOSPC: exit 1, or EROFS: exit 2);
5. bad option values.

Every case checks the exit code (2: the user's input or path; 1: a machine fault or a failed sample), that
stderr is exactly one ``error:`` line naming the offending path or key, no traceback, and that an output file
written before the run is byte-identical after it (``keep``) or that nothing was created (``absent``).
``{w}`` is the shared input world (``tests/_fault_world.py``), ``{o}`` the test's own output folder, which holds
a regular file ``afile`` and an empty folder ``adir``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from _fault_world import break_disk, build_fault_world, eval_fx, train_config
from oodforge.cli.main import app

runner = CliRunner()
OLD = b"an output written by an earlier run\n"
ID0 = eval_fx.IDS[0]
ENOSPC, EROFS, FULL = "rename:ENOSPC", "rename:EROFS", "write:ENOSPC"  # see break_disk


@dataclass(frozen=True)
class Fault:
    """One failing invocation and what the user must get."""

    argv: tuple[str, ...]
    code: int
    needle: str  # in the one error line: the offending path or key
    keep: str | None = None  # an earlier output ({o}-relative) that must stay byte-identical
    absent: str | None = None  # a path ({o}-relative) the failed run must not create
    disk: str | None = None  # ENOSPC / EROFS: the atomic rename fails; FULL: a write fails (no file name)
    train: dict[str, Any] | None = field(default=None)  # write {o}/train.yaml with these overrides


def case(cid: str, argv: str, code: int, needle: str, marks: Any = (), **kw: Any) -> Any:
    return pytest.param(Fault(tuple(argv.split()), code, needle, **kw), id=cid, marks=marks)


PV = "preview {w}/ds --out "
EV = "eval -b synth --root {w}/ev -q --scores "
EVS = EV + "{w}/scores "
SC = "score --method energy -q "
SML = "score -m sml -q {w}/logits {o}/s --sml-stats "
M = " --model erfnet --weights {w}/w.pth --input-size 32x64 --device cpu"
PI = "predict {w}/img.png {o}/o.png" + M
PF = "predict {w}/imgs {o}/p" + M
PW = "predict {w}/img.png {o}/o.png --model erfnet --weights "
SE = "segeval --root {w}/cs" + M
TR = "train {o}/train.yaml"
CK = TR + " --checkpoint "
RUN = "run/config.resolved.yaml"
KEEP_RUN: dict[str, Any] = {"train": {}, "keep": RUN}
INIT = {"model.init_checkpoint": "{w}/junk.ckpt"}
INIT_OTHER = {"model.init_checkpoint": "{w}/other.ckpt"}
LONG = "x" * 300 + ".png"  # longer than any file system's NAME_MAX
LBL, VIS = "p/labelIds/x.png", "v/aachen_000000_000019.png"
EX = "export anomalib {w}/"
PP = "preprocess {w}/"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

STATS = [
    case("missing", "stats {w}/nope", 2, "{w}/nope: dataset folder not found"),
    case("file-for-folder", "stats {w}/afile", 2, "{w}/afile: not a folder"),
    case("manifest-is-a-folder", "stats {w}/ds_manifestdir", 2, "{w}/ds_manifestdir/manifest.jsonl: is a folder"),
    case("name-too-long", "stats {w}/" + LONG, 2, f"{{w}}/{LONG}: file name too long"),
    case("garbage-manifest", "stats {w}/ds_badmanifest", 2, "ds_badmanifest/manifest.jsonl:1: malformed"),
]
PREVIEW = [
    case("missing", "preview {w}/nope --out {o}/p.png", 2, "{w}/nope", absent="p.png"),
    case("truncated-png", "preview {w}/ds_trunc --out {o}/p.png", 2, "aachen_000001_000019.png", absent="p.png"),
    case("out-is-a-folder", PV + "{o}/adir", 2, "--out {o}/adir: is a folder", keep="adir/keep.png"),
    case("out-under-a-file", PV + "{o}/afile/p.png", 2, "{o}/afile is a file, not a folder"),
    case("out-name-too-long", PV + "{o}/" + LONG, 2, f"{{o}}/{LONG}: file name too long"),
    case("enospc", PV + "{o}/p.png", 1, "{o}/p.png: no space left", keep="p.png", disk=ENOSPC),
    case("erofs", PV + "{o}/p.png", 2, "{o}/p.png: read-only", keep="p.png", disk=EROFS),
    case("write-enospc", PV + "{o}/p.png", 1, "{o}/p.png", keep="p.png", disk=FULL),
    case("n-0", PV + "{o}/p.png --n 0", 2, "--n 0", absent="p.png"),
    case("unknown-split", PV + "{o}/p.png --split nope", 2, "'nope'", absent="p.png"),
]
EVAL = [
    case("root-missing", "eval -b synth --root {w}/nope --scores {w}/scores", 2, "{w}/nope"),
    case("root-is-a-file", "eval -b synth --root {w}/afile --scores {w}/scores", 2, "{w}/afile"),
    case("garbage-manifest", "eval -b synth --root {w}/ds_badmanifest --scores {w}/scores", 2, "manifest.jsonl"),
    case("scores-missing", EV + "{w}/nope", 2, "{w}/nope: not a folder"),
    case("scores-is-a-file", EV + "{w}/afile", 2, "{w}/afile: not a folder"),
    case("score-shape", EV + "{w}/scores_shape", 2, f"{ID0}.npy: score map has shape (16, 64)"),
    case("score-dtype", EV + "{w}/scores_dtype", 2, f"{ID0}.npy: scores have dtype uint8"),
    case("score-garbage", EV + "{w}/scores_garbage", 2, f"{ID0}.npy: not a readable score file"),
    case("score-truncated-npz", EV + "{w}/scores_zip", 2, f"{ID0}.npz: not a readable score file (BadZipFile"),
    case("truncated-label", "eval -b synth --root {w}/ev_trunc --scores {w}/scores", 2, f"gt_pixel/{ID0}.png"),
    case("out-is-a-folder", EVS + "--out {o}/adir", 2, "--out {o}/adir: is a folder", keep="adir/keep.json"),
    case("out-under-a-file", EVS + "--out {o}/afile/r.json", 2, "{o}/afile is a file, not a folder"),
    case("plots-is-a-file", EVS + "--plots {o}/afile", 2, "--plots {o}/afile: is a file"),
    case("enospc", EVS + "--out {o}/r.json", 1, "{o}/r.json: no space left", keep="r.json", disk=ENOSPC),
    case("erofs", EVS + "--out {o}/r.json", 2, "{o}/r.json: read-only", keep="r.json", disk=EROFS),
    case("unknown-benchmark", "eval -b nope --root {w}/ev --scores {w}/scores", 2, "'nope'"),
    case("unknown-protocol", EVS + "--protocol nope", 2, "'nope'"),
]
SCORE = [
    case("logits-missing", SC + "{w}/nope {o}/s", 2, "{w}/nope: not a folder", absent="s"),
    case("logits-is-a-file", SC + "{w}/afile {o}/s", 2, "{w}/afile: not a folder", absent="s"),
    case("garbage-npy", SC + "{w}/logits_garbage {o}/s", 2, "logits_garbage/a.npy: not a readable", absent="s"),
    case("truncated-npz", SC + "{w}/logits_zip {o}/s", 2, "logits_zip/a.npz: not a readable", absent="s"),
    case("logits-2d", SC + "{w}/logits_2d {o}/s", 2, "a.npy: logits have shape (8, 16)", absent="s"),
    case("sml-garbage", SML + "{w}/sml_garbage.npz", 2, "{w}/sml_garbage.npz: not a readable", absent="s"),
    case("sml-not-npz", SML + "{w}/sml_array.npy", 2, "{w}/sml_array.npy: not a readable", absent="s"),
    case("sml-missing", SML + "{w}/nope.npz", 2, "{w}/nope.npz", absent="s"),
    case("sml-is-a-folder", SML + "{o}/adir", 2, "{o}/adir", absent="s"),
    case("out-is-a-file", SC + "{w}/logits {o}/afile", 2, "OUT_DIR {o}/afile: is a file"),
    case("out-entry-is-a-folder", SC + "{w}/logits {o}/s", 2, "{o}/s/a.npy: is a folder", keep="s/a.npy/keep"),
    case("enospc", SC + "{w}/logits {o}/s", 1, "{o}/s/a.npy: no space left", keep="s/a.npy", disk=ENOSPC),
    case("erofs", SC + "{w}/logits {o}/s", 2, "{o}/s/a.npy: read-only", keep="s/a.npy", disk=EROFS),
    case("unknown-method", "score -m nope -q {w}/logits {o}/s", 2, "'nope'", absent="s"),
    case("temperature-0", SC + "-t 0 {w}/logits {o}/s", 2, "--temperature 0; expected", absent="s"),
    case("temperature-negative", SC + "-t -1 {w}/logits {o}/s", 2, "--temperature -1; expected", absent="s"),
]
PREDICT = [
    case("source-missing", "predict {w}/nope.png {o}/o.png" + M, 2, "{w}/nope.png: not found", absent="o.png"),
    case("weights-missing", PW + "{w}/nope.pth", 2, "{w}/nope.pth", absent="o.png"),
    case("weights-is-a-folder", PW + "{o}/adir", 2, "{o}/adir is a folder"),
    case("weights-garbage", PW + "{w}/junk.pth", 2, "cannot read model weights file {w}/junk.pth"),
    case("weights-foreign", PW + "{w}/foreign.pth", 2, "{w}/foreign.pth"),
    case("ckpt-missing", "predict {w}/img.png {o}/o.png -c {w}/nope.ckpt", 2, "{w}/nope.ckpt: checkpoint not found"),
    case("ckpt-is-a-folder", "predict {w}/img.png {o}/o.png -c {o}/adir", 2, "{o}/adir: checkpoint is a folder"),
    case("ckpt-garbage", "predict {w}/img.png {o}/o.png -c {w}/junk.ckpt", 2, "{w}/junk.ckpt: not a checkpoint"),
    case("ckpt-foreign", "predict {w}/img.png {o}/o.png -c {w}/w.pth", 2, "{w}/w.pth: not a checkpoint"),
    case("truncated-image", "predict {w}/trunc.png {o}/o.png" + M, 2, "{w}/trunc.png: unreadable", absent="o.png"),
    case("out-is-a-folder", "predict {w}/img.png {o}/adir" + M, 2, "OUT {o}/adir: is a folder", keep="adir/k.png"),
    case("out-under-a-file", "predict {w}/img.png {o}/afile/o.png" + M, 2, "{o}/afile is a file, not a folder"),
    case("folder-out-is-a-file", "predict {w}/imgs {o}/afile" + M, 2, "OUT {o}/afile: is a file"),
    case("enospc", PI, 1, "{o}/o.png: no space left", keep="o.png", disk=ENOSPC),
    case("erofs", PI, 2, "{o}/o.png: read-only", keep="o.png", disk=EROFS),
    case("folder-enospc", PF, 1, "{o}/p/labelIds/x.png: no space left", keep=LBL, disk=ENOSPC),
    case("folder-erofs", PF, 2, "{o}/p/labelIds/x.png: read-only", keep=LBL, disk=EROFS),
    case("unknown-model", "predict {w}/img.png {o}/o.png --model nope --weights {w}/w.pth", 2, "--model 'nope'"),
    case("num-classes-0", PI + " --num-classes 0", 2, "--num-classes 0; expected an integer >= 1"),
    case("short-side-0", PI + " --short-side 0", 2, "--short-side 0; expected an integer >= 1"),
    case("input-scale-negative", PI + " --input-scale -1", 2, "--input-scale -1; expected a factor > 0"),
    case("input-size-bad", PI + " --input-size 0x64", 2, "--input-size '0x64'"),
    case("channel-order-bad", PI + " --channel-order xyz", 2, "--channel-order 'xyz'; expected rgb or bgr"),
    case("normalization-bad", PI + " --normalization x", 2, "--normalization 'x'"),
    case("device-unknown", PI + " --device tpu", 2, "--device 'tpu': not a torch device to run on", absent="o.png"),
    case("device-no-cuda", PI + " --device cuda", 2, "--device 'cuda': no CUDA device", marks=NO_CUDA),
]
SEGEVAL = [
    case("root-missing", "segeval --root {w}/nope" + M, 2, "{w}/nope: Cityscapes root not found"),
    case("root-is-a-file", "segeval --root {w}/afile" + M, 2, "{w}/afile: not a folder"),
    case("weights-garbage", "segeval --root {w}/cs --model erfnet --weights {w}/junk.pth", 2, "{w}/junk.pth"),
    case("ckpt-garbage", "segeval --root {w}/cs -c {w}/junk.ckpt", 2, "{w}/junk.ckpt: not a checkpoint"),
    case("truncated-image", "segeval --root {w}/cs_trunc" + M, 2, "aachen_000000_000019_leftImg8bit.png"),
    case("vis-is-a-file", SE + " --vis {o}/afile", 2, "--vis {o}/afile: is a file", keep="afile"),
    case("vis-enospc", SE + " --vis {o}/v", 1, f"{{o}}/{VIS}: no space left", keep=VIS, disk=ENOSPC),
    case("vis-erofs", SE + " --vis {o}/v", 2, f"{{o}}/{VIS}: read-only", keep=VIS, disk=EROFS),
    case("unknown-split", SE + " --split nope", 2, "{w}/cs/leftImg8bit/nope"),
    case("limit-0", SE + " --limit 0", 2, "--limit 0; expected an image count >= 1"),
    case("n-vis-negative", SE + " --n-vis -1 --vis {o}/v", 2, "--n-vis -1", absent="v"),
    case("unknown-model", "segeval --root {w}/cs --model nope --weights {w}/w.pth", 2, "--model 'nope'"),
    case("device-unknown", SE + " --device tpu", 2, "--device 'tpu': not a torch device to run on"),
]
TRAIN = [
    case("config-missing", "train {o}/nope.yaml", 2, "{o}/nope.yaml: config file not found"),
    case("config-is-a-folder", "train {o}/adir", 2, "{o}/adir: cannot read config file"),
    case("config-garbage", "train {w}/garbage.yaml", 2, "{w}/garbage.yaml: cannot read config file"),
    case("config-empty", "train {w}/empty.yaml", 2, "{w}/empty.yaml: expected a YAML mapping"),
    case("config-syntax", "train {w}/syntax.yaml", 2, "{w}/syntax.yaml: YAML syntax error"),
    case("resume-missing", CK + "{o}/nope.ckpt", 2, "--checkpoint: {o}/nope.ckpt not found", **KEEP_RUN),
    case("resume-is-a-folder", CK + "{o}/adir", 2, "--checkpoint: {o}/adir is a folder", **KEEP_RUN),
    case("resume-garbage", CK + "{w}/junk.ckpt", 2, "--checkpoint: {w}/junk.ckpt is not a checkpoint", **KEEP_RUN),
    case("resume-foreign", CK + "{w}/w.pth", 2, "--checkpoint: {w}/w.pth is not a checkpoint", **KEEP_RUN),
    case("resume-other-model", CK + "{w}/other.ckpt", 2, "--checkpoint: {w}/other.ckpt does not fit", **KEEP_RUN),
    case("init-other-model", TR, 2, "{w}/other.ckpt does not fit model 'erfnet'", train=INIT_OTHER, keep=RUN),
    case("init-garbage", TR, 2, "model.init_checkpoint: {w}/junk.ckpt is not a", train=INIT, keep=RUN),
    case("output-dir-is-a-file", TR, 2, "output_dir {o}/afile: is a file", train={"output_dir": "{o}/afile"}),
    case("output-dir-under-a-file", TR, 2, "{o}/afile is a file, not a folder", train={"output_dir": "{o}/afile/r"}),
    case("enospc", TR, 1, f"{{o}}/{RUN}: no space left", train={}, keep=RUN, disk=ENOSPC),
    case("erofs", TR, 2, f"{{o}}/{RUN}: read-only", train={}, keep=RUN, disk=EROFS),
    case("batch-size-negative", TR, 2, "data.batch_size", train={"data.batch_size": -1}, absent="run"),
    case("workers-negative", TR, 2, "data.num_workers", train={"data.num_workers": -1}, absent="run"),
    case("unknown-model", TR, 2, "model.name: 'nope'", train={"model.name": "nope"}, keep=RUN),
    case(
        "root-missing",
        TR,
        2,
        "{w}/nope: Cityscapes root not found",
        train={"data.cityscapes_root": "{w}/nope"},
        keep=RUN,
    ),
]
EXPORT = [
    case("dataset-missing", EX + "nope {o}/x -q", 2, "{w}/nope", absent="x"),
    case("dataset-is-a-file", EX + "afile {o}/x -q", 2, "{w}/afile", absent="x"),
    case("garbage-manifest", EX + "ds_badmanifest {o}/x -q", 2, "manifest.jsonl:1", absent="x"),
    case("truncated-png", EX + "ds_trunc {o}/x -q", 2, "ds_trunc/train/gt_pixel/aachen_000000_000019.png"),
    case("out-is-a-file", EX + "ds {o}/afile -q", 2, "{o}/afile", keep="afile"),
    case("out-under-a-file", EX + "ds {o}/afile/x -q", 2, "{o}/afile", keep="afile"),
    case("enospc", EX + "ds {o}/x -q", 1, "{o}/x/", disk=ENOSPC),
    case("erofs", EX + "ds {o}/x -q", 2, "{o}/x/", disk=EROFS),
    case("ratio-too-big", EX + "ds {o}/x -q --normal-test-ratio 1.5", 2, "1.5", absent="x"),
    case("unknown-split", EX + "ds {o}/x -q --split nope", 2, "nope", absent="x"),
]
PREPROCESS = [
    case("missing", PP + "nope {o}/x -q", 2, "{w}/nope", absent="x"),
    case("dir-is-a-file", PP + "afile {o}/x -q", 2, "{w}/afile", absent="x"),
    case("out-is-a-file", PP + "rd {o}/afile -q", 2, "{o}/afile", keep="afile"),
    case("out-under-a-file", PP + "rd {o}/afile/x -q", 2, "{o}/afile", keep="afile"),
    case("log-is-a-folder", PP + "rd {o}/x -q --log {o}/adir", 2, "{o}/adir", keep="adir/keep.log"),
    case("enospc", PP + "rd {o}/x -q", 1, "{o}/x/", disk=ENOSPC),
    case("erofs", PP + "rd {o}/x -q", 2, "{o}/x/", disk=EROFS),
    case("share-too-big", PP + "rd {o}/x -q --normal-test-share 2", 2, "2", absent="x"),
    case("min-pixel-negative", PP + "rd {o}/x -q --min-pixel -1", 2, "-1", absent="x"),
]
DEMO = [
    case("out-is-a-file", "demo --out {o}/afile -w 1", 2, "{o}/afile", keep="afile"),
    case("out-under-a-file", "demo --out {o}/afile/d -w 1", 2, "{o}/afile", keep="afile"),
    case("workers-0", "demo --out {o}/d -w 0", 2, "--workers", absent="d"),
    case("enospc", "demo --out {o}/d -w 1", 1, "{o}/d/", disk=ENOSPC),
]
MATRIX = {
    "stats": STATS, "preview": PREVIEW, "eval": EVAL, "score": SCORE, "predict": PREDICT, "segeval": SEGEVAL,
    "train": TRAIN, "export": EXPORT, "preprocess": PREPROCESS, "demo": DEMO,
}  # fmt: skip
CASES = [pytest.param(p.values[0], id=f"{cmd}-{p.id}", marks=p.marks) for cmd, params in MATRIX.items() for p in params]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fault_world(tmp_path_factory.mktemp("fault_world"))


@pytest.mark.parametrize("fault", CASES)
def test_one_line_right_exit_code_nothing_lost(
    fault: Fault, world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OODFORGE_DEBUG", raising=False)
    o = tmp_path / "o"
    (o / "adir").mkdir(parents=True)
    (o / "afile").write_bytes(b"a regular file\n")

    def fill(text: str) -> str:
        return text.replace("{w}", str(world)).replace("{o}", str(o))

    if fault.train is not None:
        train_config(world, o, {k: fill(v) if isinstance(v, str) else v for k, v in fault.train.items()})
    if fault.keep is not None:
        (o / fault.keep).parent.mkdir(parents=True, exist_ok=True)
        (o / fault.keep).write_bytes(OLD)
    if fault.disk is not None:
        break_disk(monkeypatch, fault.disk)
    res = runner.invoke(app, [fill(a) for a in fault.argv])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in res.output, res.output
    assert res.exit_code == fault.code, res.output
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert fill(fault.needle) in lines[0]
    if fault.keep is not None:
        assert (o / fault.keep).read_bytes() == OLD, "an earlier output was changed"
    if fault.absent is not None:
        assert not (o / fault.absent).exists(), f"the failed run created {fault.absent}"
    assert not [p for p in o.rglob("*.tmp")], "a temporary file was left behind"


def test_stats_reports_unreadable_files_and_exits_0(world: Path) -> None:
    """stats is a report, not a check (that is `verify`): an unreadable image is a note naming it, exit 0."""
    res = runner.invoke(app, ["stats", str(world / "ds_trunc")])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and not res.stderr.strip()
    assert "not measured (" + str(world / "ds_trunc/train/images/aachen_000001_000019.png") in res.output


def test_predict_folder_skips_an_unreadable_image_and_exits_1(world: Path, tmp_path: Path) -> None:
    """A batch command goes on past a bad sample, names it and exits 1 (like synth and render)."""
    out = tmp_path / "p"
    opts = M.replace("{w}", str(world)).split()
    res = runner.invoke(app, ["predict", str(world / "imgs_trunc"), str(out), *opts])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert f"{world / 'imgs_trunc' / 'y.png'}: unreadable" in res.stderr
    assert "1 image(s) could not be read and were skipped" in res.stderr
    assert (out / "labelIds" / "z.png").is_file() and (out / "scores" / "z.npy").is_file()
    assert not (out / "labelIds" / "y.png").exists()
