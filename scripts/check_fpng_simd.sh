#!/usr/bin/env bash
# Does fpng's output depend on the CPU's SIMD features? Encode the same pixels natively and under qemu with
# older CPU models, compare the sha256 of the PNG bytes. Needs qemu-user (Debian: apt-get install qemu-user).
#
#   bash scripts/check_fpng_simd.sh [IMAGE.png]
#
# Found with fpng 0.1.0 (py-fpng-nb): identical bytes natively (AVX2) and as "Nehalem" (SSE4.2, no AVX);
# "Conroe" (no SSE4.1) stops with SIGILL: the x86-64 wheel is built for SSE4.1, which oodforge._codec checks
# before loading it (falling back to OpenCV). fpng's SIMD is confined to the zlib checksums.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(readlink -f .venv/bin/python)
EXT=$(.venv/bin/python -c "import fpng.fpng_ext as e; print(e.__file__)")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
.venv/bin/python - "$TMP" "${1:-}" <<'PY'
import sys, numpy as np
from oodforge._io import read_image_rgb
from pathlib import Path
out, src = Path(sys.argv[1]), sys.argv[2]
rgb = read_image_rgb(Path(src)) if src else np.random.default_rng(0).integers(0, 256, (517, 333, 3), np.uint8)
(out / "shape").write_text(f"{rgb.shape[1]} {rgb.shape[0]}")
(out / "raw").write_bytes(np.ascontiguousarray(rgb).tobytes())
PY
cat > "$TMP/enc.py" <<PY
import hashlib, importlib.util
spec = importlib.util.spec_from_file_location("fpng_ext", "$EXT")
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
w, h = map(int, open("$TMP/shape").read().split())
print(hashlib.sha256(m.encode_image_to_memory(open("$TMP/raw", "rb").read(), w, h, 3)).hexdigest())
PY
native=$("$PY" "$TMP/enc.py")
echo "native:  $native"
status=0
for cpu in Nehalem Westmere; do
  got=$(qemu-x86_64 -cpu "$cpu" "$PY" "$TMP/enc.py" 2>/dev/null || echo "failed")
  echo "$cpu: $got"
  [[ "$got" == "$native" ]] || status=1
done
exit $status
