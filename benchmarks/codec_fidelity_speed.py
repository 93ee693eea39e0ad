"""How faithful and how fast is tfjpeg's JPEG model? Kodak, against libjpeg-turbo and kornia.

For each Kodak image and each quality (default 5, 10, 20, 30, 50, 75, 90, 95; 4:2:0) the
"real JPEG" is Pillow's libjpeg-turbo encode (``tfjpeg.io.encode_pixels``) decoded by Pillow
(``tfjpeg.io.decode_pixels``), and its quantized coefficients are what jpeglib reads from that
file (``tfjpeg.io.read_jpeg``). Measured:

* ``DiffJPEG(rounding="hard")["decoded"]`` vs the real decoded JPEG: PSNR (pooled over all images,
  and the worst image), largest pixel difference, and the fraction of quantized coefficients equal
  to jpeglib's (real blocks only, all three components);
* the same coefficient agreement for ``"ste"`` (whose forward pass is the exact one) and for a
  *plain float pipeline* (float colour conversion, plain 2×2 averaging, float DCT, round half
  away from zero: the ``"unrounded"`` output of ``"poly3"`` rounded), to show what the exact
  integer emulation buys;
* PSNR of the ``"poly3"`` and ``"ste"`` decoded outputs, and of kornia's
  ``kornia.enhance.jpeg_codec_differentiable``, against the real JPEG;
* throughput on the CPU in megapixels per second, forward and forward+backward (gradient of a
  mean squared error w.r.t. the input pixels), for tfjpeg eagerly, in ``tf.function`` and with
  XLA (``jit_compile=True``), and for kornia eagerly (and with ``torch.compile`` if asked: see
  ``_skip_empty_kornia_padding`` for the workaround its backward pass needs), with the same
  number of threads for both frameworks, all configurations timed in turns.

kornia's conventions, handled here: input RGB in [0, 1] as (N, 3, H, W) (so the uint8 image is
divided by 255 and the output multiplied by 255 before comparing), quality a float tensor of
shape (N,) (one per image; a 0-D scalar is rejected), and whole 16×16 MCUs (kornia 0.9 pads the
bottom/right edges by replication and crops back; all Kodak images are 512×768 or 768×512, so no
padding happens). kornia models 4:2:0 only, with the standard Annex K tables scaled by a
differentiable IJG formula (its polynomial floor and soft clipping leave the tables up to 0.96 of
a step away from libjpeg's integer tables at qualities 20, 75, 90, 95; checked by hand), float
colour conversion, antialiased bilinear 2× chroma downsampling, float DCT and polynomial rounding
(Reich et al., "Differentiable JPEG: the devil is in the
details", WACV 2024). All PSNRs compare float outputs (not rounded to 8 bits) with the real
decoded uint8 image; peak 255.

Run (all 24 images: ~6 min fidelity + ~10 min speed with --torch-compile, on one core of a 2-core
CPU shared with other jobs; results in benchmarks/results/):

    python benchmarks/codec_fidelity_speed.py --threads 1 --torch-compile  # as in the README
    python benchmarks/codec_fidelity_speed.py --images 2 --repeats 2 --out /tmp/quick  # quick

Per-image results are kept in a state file (``--state``) so an interrupted run resumes.

Reference: Talebi et al. 2020 §3.1 (differentiable JPEG), Shin & Song 2017 (poly3 rounding),
Man et al. 2023 appendix D (numerical errors of libjpeg).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))  # an installed tfjpeg first

from benchutil import (
    Progress,
    check_arguments,
    configure_threads,
    environment,
    fmt_psnr,
    psnr_from_sse,
    time_runs,
    write_results,
)

DEFAULT_QUALITIES = (5, 10, 20, 30, 50, 75, 90, 95)
STEM = "codec_fidelity_speed"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kodak-dir", default=None, help="Kodak folder (default: $TFJPEG_KODAK_DIR)")
    p.add_argument("--images", type=int, default=24, help="use the first N images (default 24)")
    p.add_argument(
        "--qualities",
        default=",".join(map(str, DEFAULT_QUALITIES)),
        help="comma-separated IJG qualities",
    )
    p.add_argument("--subsampling", default="420", choices=("420",), help="kornia models 4:2:0")
    p.add_argument("--threads", type=int, default=1, help="compute threads for TF and torch")
    p.add_argument("--batch", type=int, default=4, help="images per batch in the speed test")
    p.add_argument("--speed-quality", type=int, default=75)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per configuration")
    p.add_argument("--no-kornia", action="store_true", help="skip kornia (no torch needed)")
    p.add_argument("--torch-compile", action="store_true", help="also time torch.compile(kornia)")
    p.add_argument("--skip-fidelity", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="folder for the JSON and markdown results",
    )
    p.add_argument(
        "--state",
        type=Path,
        default=None,
        help="per-image state file for resuming (default: in the temp folder, by settings)",
    )
    args = p.parse_args(argv)
    check_arguments(p, args, ("images", "threads", "batch", "repeats"))
    if not 1 <= args.speed_quality <= 100:
        p.error(f"--speed-quality must be in 1..100. Received: {args.speed_quality}")
    return args


# ------------------------------------------------------------------------------------- fidelity
class FidelityModels:
    """The compiled tfjpeg (and kornia) codecs used for the fidelity measurements."""

    def __init__(self, subsampling: str, use_kornia: bool) -> None:
        import tensorflow as tf

        from tfjpeg.jpeg import DiffJPEG

        spec = [
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
        self.layers = {m: DiffJPEG(subsampling, rounding=m) for m in ("hard", "poly3", "ste")}
        self.fns = {
            m: tf.function(lambda x, q, layer=layer: layer(x, quality=q), input_signature=spec)
            for m, layer in self.layers.items()
        }
        self.kornia = None
        if use_kornia:
            from kornia.enhance import jpeg_codec_differentiable

            self.kornia = jpeg_codec_differentiable


def _coef_equal(ours: list[np.ndarray], real: tuple[np.ndarray, ...]) -> tuple[int, int]:
    equal = total = 0
    for mine, theirs in zip(ours, real, strict=True):
        hb, wb = theirs.shape[:2]
        equal += int(np.count_nonzero(mine[:hb, :wb] == theirs))
        total += theirs.size
    return equal, total


def _sse(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.sum(d * d))


def measure_image(image: np.ndarray, qualities: list[int], models: FidelityModels) -> dict:
    """Per-quality sums for one image (so that results can be pooled and resumed)."""
    import tensorflow as tf

    from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg
    from tfjpeg.jpeg import round_half_away

    n = len(qualities)
    batch = tf.constant(np.repeat(image[None].astype(np.float32), n, axis=0))
    qs = tf.constant(qualities, tf.float32)
    outs = {m: fn(batch, qs) for m, fn in models.fns.items()}
    float_coefs = [round_half_away(u).numpy() for u in outs["poly3"]["unrounded"]]
    decoded = {m: o["decoded"].numpy() for m, o in outs.items()}
    coefs = {m: [c.numpy() for c in outs[m]["coefficients"]] for m in ("hard", "ste")}
    kornia_out = None
    if models.kornia is not None:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(np.repeat(image[None], n, axis=0)).permute(0, 3, 1, 2)
            y = models.kornia(x.float() / 255.0, torch.tensor(qualities, dtype=torch.float32))
            kornia_out = (y * 255.0).permute(0, 2, 3, 1).numpy()

    per_quality = {}
    for i, q in enumerate(qualities):
        data = encode_pixels(image, q, subsampling="420")
        real_pixels = decode_pixels(data)
        real = read_jpeg(data).components
        rec: dict[str, Any] = {"values": int(real_pixels.size), "bytes": len(data)}
        rec["hard_sse"] = _sse(decoded["hard"][i], real_pixels)
        rec["hard_max_abs"] = float(np.max(np.abs(decoded["hard"][i] - real_pixels)))
        rec["poly3_sse"] = _sse(decoded["poly3"][i], real_pixels)
        rec["ste_sse"] = _sse(decoded["ste"][i], real_pixels)
        rec["real_vs_original_sse"] = _sse(real_pixels, image)
        rec["hard_coef_equal"], rec["coef_total"] = _coef_equal([c[i] for c in coefs["hard"]], real)
        rec["ste_coef_equal"], _ = _coef_equal([c[i] for c in coefs["ste"]], real)
        rec["float_coef_equal"], _ = _coef_equal([c[i] for c in float_coefs], real)
        if kornia_out is not None:
            rec["kornia_sse"] = _sse(kornia_out[i], real_pixels)
        per_quality[str(q)] = rec
    return per_quality


def run_fidelity(
    images: list[tuple[str, np.ndarray]], args: argparse.Namespace, state_path: Path
) -> tuple[dict, float]:
    state: dict[str, Any] = {}
    if state_path.exists():
        state = json.loads(state_path.read_text())
        print(f"resuming from {state_path}: {len(state)} image(s) done", file=sys.stderr)
    models = FidelityModels(args.subsampling, use_kornia=not args.no_kornia)
    bar = Progress(len(images), "fidelity")
    bar.done = sum(1 for name, _ in images if name in state)
    for name, image in images:
        if name in state:
            continue
        t0 = time.monotonic()
        state[name] = measure_image(image, args.qualities, models)
        state[name]["_seconds"] = time.monotonic() - t0
        state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(state_path)
        bar.update(name)
    done = {n: state[n] for n, _ in images}
    summary = aggregate_fidelity(done, args.qualities, not args.no_kornia)
    # Compute time of the fidelity pass, summed over images (also when resumed from the state).
    seconds = sum(r.get("_seconds", 0.0) for r in done.values())
    return summary, seconds


def aggregate_fidelity(state: dict, qualities: list[int], with_kornia: bool) -> dict:
    out: dict[str, Any] = {}
    for q in qualities:
        recs = [state[name][str(q)] for name in state]
        values = sum(r["values"] for r in recs)
        total = sum(r["coef_total"] for r in recs)
        row: dict[str, Any] = {"images": len(recs), "coefficients": total}
        modes = ["hard", "poly3", "ste", "real_vs_original"] + (["kornia"] if with_kornia else [])
        for m in modes:
            row[f"{m}_psnr"] = psnr_from_sse(sum(r[f"{m}_sse"] for r in recs), values)
            row[f"{m}_psnr_worst_image"] = min(
                psnr_from_sse(r[f"{m}_sse"], r["values"]) for r in recs
            )
        row["hard_max_abs_pixel_diff"] = max(r["hard_max_abs"] for r in recs)
        row["hard_identical_images"] = sum(r["hard_sse"] == 0 for r in recs)
        for m in ("hard", "ste", "float"):
            equal = sum(r[f"{m}_coef_equal"] for r in recs)
            row[f"{m}_coef_agreement"] = equal / total
            row[f"{m}_coef_differing"] = total - equal
        row["bpp"] = 8 * sum(r["bytes"] for r in recs) / (values / 3)
        out[str(q)] = row
    return out


# ---------------------------------------------------------------------------------------- speed
def _time_round_robin(
    runs: dict[str, Callable[[], float]], repeats: int, bar: Progress
) -> dict[str, dict[str, Any]]:
    """Warm every run up (tracing, XLA / inductor compilation), then time them in turns.

    The machine is shared, so the load changes during a run; timing the configurations in
    round-robin order (one call each per round) exposes all of them to the same load
    (:func:`benchutil.time_runs`). The 1-minute load average is recorded before each round.
    """
    loads: list[float] = []

    def on_round(r: int) -> None:
        if r:
            bar.update(f"timing round {r}/{repeats}")
        loads.append(os.getloadavg()[0])

    results = time_runs(
        runs,
        repeats,
        catch_errors=True,
        on_warmup=lambda key: bar.update(f"warm-up {key}"),
        on_round=on_round,
    )
    bar.update(f"timing round {repeats}/{repeats}")
    results["_load_average_per_round"] = loads  # type: ignore[assignment]
    return results


def tf_speed_runs(batch: np.ndarray, quality: int, subsampling: str) -> dict[str, Callable]:
    import tensorflow as tf

    from tfjpeg.jpeg import DiffJPEG

    x = tf.constant(batch.astype(np.float32))
    q = tf.constant([float(quality)] * batch.shape[0])
    runs: dict[str, Callable] = {}
    for mode in ("hard", "ste", "poly3"):
        layer = DiffJPEG(subsampling, rounding=mode)

        def forward(x, q, layer=layer):
            return tf.reduce_sum(layer(x, quality=q)["decoded"])

        def backward(x, q, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, quality=q)["decoded"]
                loss = tf.reduce_mean(tf.square(y - x))
            return tf.reduce_sum(tape.gradient(loss, x))

        kinds = {
            "eager": (forward, backward),
            "tf.function": (tf.function(forward), tf.function(backward)),
            "tf.function+XLA": (
                tf.function(forward, jit_compile=True),
                tf.function(backward, jit_compile=True),
            ),
        }
        for kind, (fwd, bwd) in kinds.items():
            runs[f"tfjpeg {mode}|{kind}|forward"] = lambda f=fwd: float(f(x, q))
            if mode != "hard":  # "hard" has no gradient by design
                runs[f"tfjpeg {mode}|{kind}|forward+backward"] = lambda f=bwd: float(f(x, q))
    return runs


def _skip_empty_kornia_padding() -> None:
    """Work around a torch.compile failure in kornia's backward pass.

    kornia pads every image to whole 16×16 MCUs with ``F.pad(..., "replicate")``, even when the
    padding is zero; under ``torch.compile`` (torch 2.13) the backward of that no-op pad fails
    ("expected size 3==3, stride 1==393216 ... Error in op:
    torch.ops.aten.replication_pad2d_backward.default", a wrong fake kernel). Skipping the pad
    when nothing is padded (always, for the 512×768 Kodak images) changes no value and no
    gradient (checked against eager to 1e-10) and lets kornia's compiled backward run.
    """
    import kornia.enhance.jpeg as kornia_jpeg

    original = kornia_jpeg._perform_padding
    if getattr(original, "_tfjpeg_patched", False):
        return

    def perform_padding(image):
        if image.shape[-2] % 16 == 0 and image.shape[-1] % 16 == 0:
            return image, 0, 0
        return original(image)

    perform_padding._tfjpeg_patched = True
    kornia_jpeg._perform_padding = perform_padding


def kornia_speed_runs(batch: np.ndarray, quality: int, compile_too: bool) -> dict[str, Callable]:
    import torch
    from kornia.enhance import jpeg_codec_differentiable

    x0 = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255.0).contiguous()
    q = torch.full((batch.shape[0],), float(quality))
    variants = {"eager": jpeg_codec_differentiable}
    if compile_too:
        _skip_empty_kornia_padding()
        variants["torch.compile"] = torch.compile(jpeg_codec_differentiable)
    runs: dict[str, Callable] = {}
    for kind, fn in variants.items():

        def forward(fn=fn):
            with torch.no_grad():
                return float(fn(x0, q).sum())

        def backward(fn=fn):
            x = x0.clone().requires_grad_(True)
            loss = torch.mean((fn(x, q) - x) ** 2)
            (grad,) = torch.autograd.grad(loss, x)
            return float(grad.sum())

        runs[f"kornia|{kind}|forward"] = forward
        runs[f"kornia|{kind}|forward+backward"] = backward
    return runs


def run_speed(images: list[tuple[str, np.ndarray]], args: argparse.Namespace) -> dict:
    # One batch of same-size (landscape 512×768) images, as many as --batch asks (cycled).
    shape = max(
        {img.shape for _, img in images}, key=lambda s: sum(1 for _, i in images if i.shape == s)
    )
    same = [img for _, img in images if img.shape == shape]
    batch = np.stack([same[i % len(same)] for i in range(args.batch)])
    megapixels = batch.shape[0] * batch.shape[1] * batch.shape[2] / 1e6
    runs = tf_speed_runs(batch, args.speed_quality, args.subsampling)
    if not args.no_kornia:
        runs.update(kornia_speed_runs(batch, args.speed_quality, args.torch_compile))
    bar = Progress(len(runs) + args.repeats, "speed")
    timed = _time_round_robin(runs, args.repeats, bar)
    results: dict[str, Any] = {
        "batch_shape": list(batch.shape),
        "megapixels_per_call": megapixels,
        "quality": args.speed_quality,
        "repeats": args.repeats,
        "load_average_per_round": timed.pop("_load_average_per_round"),
        "runs": timed,
    }
    for r in timed.values():
        if "error" not in r:
            r["megapixels_per_s"] = megapixels / r["median_s"]
            r["megapixels_per_s_best"] = megapixels / r["best_s"]
    return results


# ------------------------------------------------------------------------------------- markdown
def markdown(results: dict) -> str:
    lines = []
    fid = results.get("fidelity")
    cfg = results["config"]
    if fid:
        qs = list(fid)
        n = fid[qs[0]]["images"]
        lines += [
            f"Fidelity on {n} Kodak images, 4:2:0, against Pillow's libjpeg-turbo "
            f"{results['environment']['pillow_libjpeg_turbo']} (PSNR pooled over the images; "
            "coefficients compared with what jpeglib reads from Pillow's file):",
            "",
            "| quality | " + " | ".join(qs) + " |",
            "|---|" + "---|" * len(qs),
        ]

        def row(label: str, fmt: Callable[[dict], str]) -> None:
            lines.append(f"| {label} | " + " | ".join(fmt(fid[q]) for q in qs) + " |")

        row("bpp of the real JPEG", lambda r: f"{r['bpp']:.3f}")
        row("hard: PSNR vs libjpeg decode (dB)", lambda r: fmt_psnr(r["hard_psnr"]))
        row("hard: worst image PSNR (dB)", lambda r: fmt_psnr(r["hard_psnr_worst_image"]))
        row("hard: max pixel difference", lambda r: f"{r['hard_max_abs_pixel_diff']:.0f}")
        row("hard: coefficients equal (%)", lambda r: f"{100 * r['hard_coef_agreement']:.4f}")
        row("ste: coefficients equal (%)", lambda r: f"{100 * r['ste_coef_agreement']:.4f}")
        row(
            "plain float pipeline: coefficients equal (%)",
            lambda r: f"{100 * r['float_coef_agreement']:.3f}",
        )
        row("ste: PSNR vs real JPEG (dB)", lambda r: fmt_psnr(r["ste_psnr"]))
        row("poly3: PSNR vs real JPEG (dB)", lambda r: fmt_psnr(r["poly3_psnr"]))
        if "kornia_psnr" in fid[qs[0]]:
            row("kornia: PSNR vs real JPEG (dB)", lambda r: fmt_psnr(r["kornia_psnr"]))
        row("(real JPEG vs original, dB)", lambda r: fmt_psnr(r["real_vs_original_psnr"]))
        lines.append("")
    speed = results.get("speed")
    if speed:
        env = results["environment"]
        b = speed["batch_shape"]
        lines += [
            f"Throughput in megapixels/s, median (best) of {speed['repeats']} calls after a "
            "warm-up, all configurations timed in turns, "
            f"batch {b[0]}x{b[1]}x{b[2]}, quality {speed['quality']}, on a *shared* "
            f"{env['cpu_count']}-core CPU ({env['cpu_model']}) with "
            f"{cfg['threads']['intra_op_threads']} compute thread(s) for TF and for torch "
            "(1-min load average during timing "
            f"{min(speed['load_average_per_round']):.1f}-{max(speed['load_average_per_round']):.1f}"
            "):",
            "",
            "| implementation | execution | forward | forward+backward |",
            "|---|---|---|---|",
        ]
        keys: dict[tuple[str, str], dict[str, str]] = {}
        for key, r in speed["runs"].items():
            impl, kind, direction = key.split("|")
            shown = (
                f"{r['megapixels_per_s']:.1f} ({r['megapixels_per_s_best']:.1f})"
                if "error" not in r
                else "failed"
            )
            keys.setdefault((impl, kind), {})[direction] = shown
        for (impl, kind), d in keys.items():
            back = d.get("forward+backward", "— (no gradient)")
            lines.append(f"| {impl} | {kind} | {d.get('forward', '—')} | {back} |")
        lines.append("")
        errors = {k: r["error"] for k, r in speed["runs"].items() if "error" in r}
        for k, e in errors.items():
            lines.append(f"- {k.replace('|', ' ')} failed: `{e}`")
        if errors:
            lines.append("")
    lines.append(f"Command: `{results['command']}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    threads = configure_threads(args.threads)
    if not args.no_kornia:
        try:
            import kornia
            import torch
        except ImportError:
            print(
                "kornia/torch missing: pip install '.[bench]' or pass --no-kornia", file=sys.stderr
            )
            return 2
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)

    from tfjpeg.data.folders import dataset_dir, iter_images
    from tfjpeg.errors import TfjpegError

    try:
        folder = dataset_dir("kodak", args.kodak_dir)
    except TfjpegError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images = list(iter_images(folder, limit=args.images))
    command = "python benchmarks/codec_fidelity_speed.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:])
    )
    results: dict[str, Any] = {
        "command": command.strip(),
        "config": {
            "images": [n for n, _ in images],
            "qualities": args.qualities,
            "subsampling": args.subsampling,
            "threads": threads,
            "batch": args.batch,
            "speed_quality": args.speed_quality,
            "repeats": args.repeats,
            "kornia": not args.no_kornia,
            "torch_compile": args.torch_compile,
        },
        "environment": environment(),
    }
    if not args.no_kornia:
        results["environment"].update(torch=torch.__version__, kornia=kornia.__version__)
    t_start = time.monotonic()
    if not args.skip_fidelity:
        signature = json.dumps(
            [
                sorted(results["config"]["images"]),
                args.qualities,
                args.subsampling,
                not args.no_kornia,
            ]
        )
        digest = hashlib.sha1(signature.encode()).hexdigest()[:12]
        state = args.state or Path(tempfile.gettempdir()) / "tfjpeg_bench" / f"{STEM}_{digest}.json"
        results["fidelity"], results["fidelity_compute_seconds"] = run_fidelity(images, args, state)
        results["fidelity_seconds_this_run"] = time.monotonic() - t_start
    if not args.skip_speed:
        t0 = time.monotonic()
        results["speed"] = run_speed(images, args)
        results["speed_seconds"] = time.monotonic() - t0
    results["environment"]["load_average_at_end"] = list(os.getloadavg())
    results["total_seconds"] = time.monotonic() - t_start
    text = markdown(results)
    print(text)
    write_results(args.out, STEM, results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
