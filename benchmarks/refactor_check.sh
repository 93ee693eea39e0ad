#!/usr/bin/env bash
# The "numbers unchanged" check of a refactor: run the fidelity rows of codec_fidelity_speed, the
# rate-accuracy table and the 4-image Kodak decoding table on one checkout, into one folder.
# Run it on the old and the new checkout (e.g. `git worktree add /tmp/old <rev>`), then compare
# the two folders' markdown/JSON (timings aside).
#   usage: benchmarks/refactor_check.sh CHECKOUT OUT_DIR      (needs TFJPEG_KODAK_DIR; jpegqs optional)
set -u
src=$(cd "$1" && pwd); out=$2; mkdir -p "$out"; out=$(cd "$out" && pwd)
export PYTHONPATH=$src TF_CPP_MIN_LOG_LEVEL=2
: "${TFJPEG_KODAK_DIR:?set TFJPEG_KODAK_DIR to the Kodak folder}"
cd "$src"
date > "$out/times.txt"
python benchmarks/codec_fidelity_speed.py --skip-speed --no-kornia --threads 1 \
    --out "$out/fidelity" --state "$out/fid_state.json" > "$out/fidelity.log" 2>&1
echo "fidelity $?" >> "$out/times.txt"
python benchmarks/rate_accuracy.py --out "$out/rate_accuracy" --cache "$out/rate_cache.json" \
    > "$out/rate.log" 2>&1
echo "rate $?" >> "$out/times.txt"
jpegqs_arg=()
command -v jpegqs >/dev/null 2>&1 && jpegqs_arg=(--jpegqs "$(command -v jpegqs)")
python examples/kodak_decode.py --images 4 "${jpegqs_arg[@]}" --out "$out/decode" \
    --name kodak_decode > "$out/decode.log" 2>&1
echo "decode $?" >> "$out/times.txt"
date >> "$out/times.txt"
