# Two entry points that work on a fresh machine with Python ≥ 3.10 (CI runs 3.11): `make demo` and `make test`.
# .venv is the developer's environment: the coding path plus the `train` extra (torch, compressai, ONNX
# export), `dask` (folders on a cluster) and `dev` (pytest); a user's plain `pip install .` is the coding path
# alone (bench-install sizes it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,train,dask]'
	touch $(STAMP)

install: $(STAMP)

# Compress the shipped sample with the default weights, decompress it, print bpp and PSNR.
demo: $(STAMP)
	mkdir -p demo
	$(BIN)/ibc compress tests/data/sample.png -o demo/sample.ibc --force --verbose
	$(BIN)/ibc decompress demo/sample.ibc -o demo/sample.png --force
	$(BIN)/ibc info demo/sample.ibc

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo

# Rate–distortion–realism benchmark on Kodak against the classical codecs (BENCHMARKS.md), BD-rates against
# JPEG, WebP and JPEG 2000 (the figure does not depend on the anchor). Resumable:
# finished work is cached in bench/kodak.json.cache.jsonl, keyed by the weights' hash and Pillow's version.
KODAK ?= ../shared/data/kodak
.PHONY: bench
bench: $(STAMP)
	mkdir -p bench
	$(BIN)/ibc eval $(KODAK) --codec ibc --codec ibc@ms-ssim --codec ibc:shannon-v3 --codec ibc:shannon-v2 --codec jpeg --codec webp --codec avif --codec jpeg2000 -o bench/kodak.json --record
	$(BIN)/ibc plot bench/kodak.json -o bench/kodak_rdp.png --table bench/kodak_bdrate.md --title "Kodak (24 images)"
	$(BIN)/ibc plot bench/kodak.json -o bench/kodak_rdp.png --anchor webp --table bench/kodak_bdrate_webp.md --title "Kodak (24 images)"
	$(BIN)/ibc plot bench/kodak.json -o bench/kodak_rdp.png --anchor jpeg2000 --table bench/kodak_bdrate_jpeg2000.md --title "Kodak (24 images)"
	$(BIN)/python bench/splice.py BENCHMARKS.md kodak bench/kodak_bdrate.md
	$(BIN)/python bench/splice.py BENCHMARKS.md kodak-webp bench/kodak_bdrate_webp.md
	$(BIN)/python bench/splice.py BENCHMARKS.md kodak-jpeg2000 bench/kodak_bdrate_jpeg2000.md

# The default model's MS-SSIM tune and shannon-v5 (context version 4) with both tunes on Kodak (RD only, no C2ST), beside the classical codecs of
# `make bench`'s bench/kodak.json: BD-rates against WebP (BENCHMARKS.md "Tunes").
.PHONY: bench-tune
bench-tune: $(STAMP)
	$(BIN)/ibc eval $(KODAK) --codec ibc@ms-ssim --no-c2st -o bench/kodak_tune.json --record
	$(BIN)/ibc eval $(KODAK) --codec ibc:shannon-v5 --codec ibc:shannon-v5@ms-ssim --no-c2st -o bench/kodak_v5.json --record
	$(BIN)/ibc plot bench/kodak.json bench/kodak_tune.json bench/kodak_v5.json -o bench/kodak_tune.png --anchor webp --table bench/kodak_tune_bdrate_webp.md --title "Kodak (24 images): tunes"
	$(BIN)/python bench/splice.py BENCHMARKS.md kodak-tune bench/kodak_tune_bdrate_webp.md

# The generative decoder of the default model (gc-v4 on shannon-v4; GC_WAVELET=gc-v3 or gc-v2 for the earlier ones), on Kodak: its realism sweep at two low rates, the
# issue's targets against WebP at the same size (needs bench/kodak.json from `make bench`), and crops.
GC_WAVELET ?= gc-v4
.PHONY: bench-gc-v2
bench-gc-v2: $(STAMP)
	$(BIN)/ibc eval $(KODAK) --codec ibc:$(GC_WAVELET) --levels 22 26 --realism 0 0.5 1 -o bench/kodak_$(GC_WAVELET).json
	$(BIN)/python bench/gc_v2_targets.py bench/kodak_$(GC_WAVELET).json bench/kodak.json -o bench/kodak_$(GC_WAVELET)_targets.md
	$(BIN)/python bench/gc_crops.py --model $(GC_WAVELET) --quality 22 --image $(KODAK)/kodim13.png $(KODAK)/kodim15.png \
		$(KODAK)/kodim23.png -o bench/$(GC_WAVELET)_crops.png
	$(BIN)/python bench/splice.py BENCHMARKS.md gc-v2 bench/kodak_$(GC_WAVELET)_targets.md

# The realism judge (C2ST) calibrated on Kodak: an identical copy, WebP at its lowest quality and a 4× down-and-up
# copy, plain and conditional, three seeds, one thread (about 4 minutes; BENCHMARKS.md).
.PHONY: bench-c2st
bench-c2st: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python bench/c2st_calibration.py --kodak $(KODAK) -o bench/c2st_calibration.md
	$(BIN)/python bench/splice.py BENCHMARKS.md c2st bench/c2st_calibration.md

# Speed and memory of the default model through the product, beside Pillow and CompressAI (BENCHMARKS.md);
# one thread, minimum of 3 runs per image; run it on an otherwise idle machine.
.PHONY: bench-speed
bench-speed: $(STAMP)
	$(BIN)/python bench/speed.py --kodak $(KODAK) -o bench/speed.json --table bench/speed.md --crop bench/tile_border_24mp.png \
		--startup-table bench/startup.md
	$(BIN)/python bench/splice.py BENCHMARKS.md speed bench/speed.md
	$(BIN)/python bench/splice.py BENCHMARKS.md startup bench/startup.md

# Rebuild the shipped default from the training photos with the same command users run (`ibc train`): the
# recipe of shannon-v4 + its post-filter + gc-v4, under a new name, into runs/weights/ (never over the shipped
# files), then its BD-rate against shannon-v4 on the validation photos the recipe held out (bench/rebuild.md).
# Budget: 2 hours on one thread (measured: 1.32, the post-filter stopped at its plateau; -0.17 % against
# shannon-v4, bench/rebuild.md). Resumable: run it again after an interruption.
TRAIN ?= ../shared/data/train
.PHONY: weights
weights: $(STAMP)
	IBC_MODEL_PATH=runs/weights OMP_NUM_THREADS=1 $(BIN)/ibc train $(TRAIN) --name shannon-v5 --mode gc --hours 2 --run runs/weights-run
	IBC_MODEL_PATH=runs/weights $(BIN)/python bench/rebuild_compare.py --run runs/weights-run --model shannon-v5 --against shannon-v4 -o bench/rebuild.md

# The shipped generative decoder, gc-v5, was built by the gc stage alone on shannon-v4's fixed bitstream (noise fill,
# head trained with eq. 36 against a discriminator, novelty score): `ibc train $(TRAIN) --name gc-v5 --base
# shannon-v4 --mode gc --hours 1.5 --dest weights --run runs/gc-v5`. This target runs the same command under
# another name into runs/weights/ (never over the shipped files), then the targets of bench/gc_head_targets.md.
.PHONY: weights-gc
weights-gc: $(STAMP)
	IBC_MODEL_PATH=runs/weights OMP_NUM_THREADS=1 $(BIN)/ibc train $(TRAIN) --name gc-rebuild --base shannon-v4 --mode gc --hours 1.5 --run runs/gc-rebuild
	IBC_MODEL_PATH=runs/weights OMP_NUM_THREADS=1 $(BIN)/python bench/gc_head_targets.py --models gc-v5 gc-rebuild -o bench/gc_rebuild.md

# The lab (LAB.md): the paper's auto-encoders (eq. 26–36) as presets of one loss (`ibc lab`), each trained from
# scratch on 32×32 patches of the training photos for its preset's number of steps (3–4 minutes of one core
# each), then measured on patches of the held-out photos (with `ibc score` beside the novelty preset) and plotted
# into bench/lab/: results.json (+ .npz), results.md, plane.png, grid.png. About an hour on one core.
LAB_PRESETS ?= vae beta-vae aae infovae vae-gan gan gan-c shannon gc novelty
.PHONY: lab
lab: $(STAMP)
	for p in $(LAB_PRESETS); do rm -rf runs/lab/$$p && OMP_NUM_THREADS=1 $(BIN)/ibc lab train $(TRAIN) --preset $$p \
		--pool runs/lab/pool --out runs/lab/$$p || exit 1; done
	OMP_NUM_THREADS=1 $(BIN)/ibc lab eval $(addprefix runs/lab/,$(LAB_PRESETS)) --compare-score -o bench/lab/results.json
	$(BIN)/ibc lab plot bench/lab/results.json

# Hostile-input fuzzing: 10,000 mutated, truncated, spliced and random .ibc files per strategy (BENCHMARKS.md).
.PHONY: fuzz
fuzz: $(STAMP)
	IBC_FUZZ_PROFILE=fuzz $(BIN)/python -c "import resource, sys, pytest; \
	code = pytest.main(['tests/codec/test_fuzz.py', '-p', 'no:cacheprovider', '--hypothesis-show-statistics']); \
	print(f'peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB'); sys.exit(code)"

# Disk size of a fresh coding-only install (the plain wheel, no extras) in a temporary venv, and whether
# torch came with it (it must not): bench/install_size.md.
.PHONY: bench-install
bench-install: $(STAMP)
	$(BIN)/python bench/install_size.py -o bench/install_size.md

# Folder throughput (images a second) on the 24 Kodak images: local -j 1 and -j 2, and Dask with 2 local
# workers (the LocalCluster a command starts, and a running one), outputs checked byte-identical across them
# (BENCHMARKS.md, bulk throughput). Run it on an otherwise idle machine.
.PHONY: bench-bulk
bench-bulk: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python bench/bulk_throughput.py --kodak $(KODAK) -o bench/bulk_throughput.md
	$(BIN)/python bench/splice.py BENCHMARKS.md bulk bench/bulk_throughput.md
