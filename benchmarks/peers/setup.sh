#!/usr/bin/env bash
# Make the two peer style-transfer environments used by the side-by-side benchmark.
#
#   bash benchmarks/peers/setup.sh            # both peers
#   bash benchmarks/peers/setup.sh pystiche   # just one (neural-style | pystiche)
#
# Venvs are made OUTSIDE the repo, under ${NST_PEERS_DIR:-$HOME/.cache/nst-peers}:
#   neural-style/   neural-style==0.5.7 (neural-style-pt, ProGamerGov)
#   pystiche/       pystiche==1.0.1
# Each gets torch/torchvision within the ranges of the project's requirements.txt
# (read from that file, so they cannot drift), installed by the same `pip` with
# the machine's own pip configuration: on this machine /etc/pip.conf and
# /etc/xdg/pip/pip.conf add find-links /opt/wheels and the local indexes file:///opt/pypi*/simple,
# plus the constraint file /etc/xdg/pip/constraints.txt (torch<=2.14.1), so the local wheels
# (torch 2.14.1 and its nvidia-* wheels, torchvision 0.29.1) are used and nothing big is
# downloaded. Nothing here overrides that configuration.
#
# Patches / workarounds (no peer file is edited; see run_peer.py and convert.py):
#  * Neither peer pins torch (neural-style: torch, torchvision, pillow; pystiche: torch>=1.7,
#    torchvision>=0.8, pillow!=8.3.0, tqdm), so a normal install in ONE pip command together
#    with the two pins resolves to the pinned torch; --no-deps is not needed. The script still
#    checks the installed versions afterwards.
#  * pystiche 1.0.1 does `torchvision.models.vgg.model_urls` / `torchvision.models.alexnet.
#    model_urls` at import time; torchvision >= 0.13 removed those dicts, so a bare
#    `import pystiche` fails with AttributeError. run_peer.py puts the dicts back (built from
#    torchvision's own *_Weights enums, same URLs) before importing pystiche. The import check
#    below therefore goes through `run_peer.py --check`.
#  * neural-style-pt parses sys.argv at import time (module-level parse_args), has no
#    download possible here, and needs -disable_check because our converted model has no
#    classifier weights: handled in run_peer.py / convert.py.
#  * Weights: neither peer can download its VGG here. convert.py writes our VGG16 into each
#    peer's format at run time (run_peer.py also calls it when the converted file is missing);
#    this script runs it once at the end if the shared weights file is found.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${NST_PEERS_DIR:-$HOME/.cache/nst-peers}"
PYTHON="${NST_PEERS_PYTHON:-python3}"   # must be a Python the torch wheel exists for (3.11 here)

# The project's own requirement lines for torch and torchvision (ranges), so the peers get a torch
# the project supports; the machine's pip configuration then picks the local wheels.
TORCH_PIN="$(grep -E '^torch[=<>!~ ]' "$REPO/requirements.txt" | head -n1 | tr -d '[:space:]' || true)"
TV_PIN="$(grep -E '^torchvision[=<>!~ ]' "$REPO/requirements.txt" | head -n1 | tr -d '[:space:]' || true)"
if [[ -z "$TORCH_PIN" || -z "$TV_PIN" ]]; then
    echo "could not read the torch / torchvision requirements from $REPO/requirements.txt" >&2
    exit 1
fi

declare -A PACKAGE=( [neural-style]="neural-style==0.5.7" [pystiche]="pystiche==1.0.1" )
PEERS=("$@")
if [[ ${#PEERS[@]} -eq 0 ]]; then PEERS=(neural-style pystiche); fi

echo "peers dir: $PEERS_DIR"
echo "python:    $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
echo "pins:      $TORCH_PIN $TV_PIN (from requirements.txt)"
mkdir -p "$PEERS_DIR"

for peer in "${PEERS[@]}"; do
    pkg="${PACKAGE[$peer]:-}"
    if [[ -z "$pkg" ]]; then echo "unknown peer '$peer' (neural-style | pystiche)" >&2; exit 2; fi
    venv="$PEERS_DIR/$peer"
    echo "== $peer: $pkg in $venv"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$PYTHON" -m venv "$venv"
    fi
    # One command: the torch pins and the peer together, so the resolver keeps the pins.
    "$venv/bin/python" -m pip install "$TORCH_PIN" "$TV_PIN" "$pkg"
    # Guard: fail loudly if torch or torchvision fell outside the project's range.
    "$venv/bin/python" - "$TORCH_PIN" "$TV_PIN" <<'EOF'
import sys
from importlib.metadata import version
from pip._vendor.packaging.requirements import Requirement  # pip is in every venv
for line in sys.argv[1:3]:
    req = Requirement(line)
    got = version(req.name)
    if not req.specifier.contains(got.split("+")[0], prereleases=True):
        sys.exit(f"{req.name} {got} installed, the project wants {req.specifier}")
    print(f"{req.name} {got}: within {req.specifier}")
EOF
    # Import check (with run_peer.py's compatibility shims applied).
    "$venv/bin/python" "$HERE/run_peer.py" --peer "$peer" --check
done

# Convert the weights once now (run_peer.py would do it on first use anyway).
WEIGHTS="${NST_VGG16_WEIGHTS:-$REPO/../shared/weights/vgg16-imagenet-features.safetensors}"
if [[ -f "$WEIGHTS" ]]; then
    first="${PEERS[0]}"
    for peer in "${PEERS[@]}"; do
        "$PEERS_DIR/$first/bin/python" "$HERE/convert.py" --peer "$peer" --weights "$WEIGHTS"
    done
else
    echo "note: $WEIGHTS not found; run convert.py --weights FILE before run_peer.py"
fi
echo "done. Run e.g.:"
echo "  $PEERS_DIR/neural-style/bin/python $HERE/run_peer.py --peer neural-style \\"
echo "      --content IMG --style IMG --size 256 --steps 100 --out out.png --json out.json"
