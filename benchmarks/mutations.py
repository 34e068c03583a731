"""Plant known wiring and formula bugs, one at a time, and see which the tests catch.

Each mutation is a one-line patch (an exact snippet replaced in one file) and the tests that should
catch it. For each, the working tree is copied (without .git and the virtual environment) to a
temporary folder, the patch is applied, and the listed tests run there with this interpreter; a
mutation survives when they all pass. Run by hand, not in CI (a few minutes):

    python benchmarks/mutations.py [--only NAME ...]

Results: benchmarks/results/mutations.md (machine named).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import machine  # noqa: E402


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation(
        "content term reads the first style layer",
        "nst/targets.py",
        "net(content, settings.content_layers)",
        "net(content, settings.style_layers[:1])",
        ("tests/test_wiring.py::test_the_content_term_reads_content_layers",),
    ),
    Mutation(
        "content weight ignores the picture's size",
        "nst/targets.py",
        "settings.content_weight_at(canvas)",
        "settings.content_weight",
        ("tests/test_wiring.py::test_the_content_weight_grows_with_the_side_of_each_scale_above_256_px",),
    ),
    Mutation(
        "content weight from the final size, not the scale's",
        "nst/targets.py",
        "settings.content_weight_at(canvas)",
        "settings.content_weight_at(Canvas(settings.size, settings.size))",
        ("tests/test_wiring.py::test_the_content_weight_grows_with_the_side_of_each_scale_above_256_px",),
    ),
    Mutation(
        "coarse scales read every style layer",
        "nst/engine.py",
        "settings.at_scale(canvas, last=k == len(scales) - 1),",
        "settings,",
        (
            "tests/test_wiring.py::test_a_coarse_scale_leaves_out_style_layers_with_few_positions_and_the_last_keeps_them",
        ),
    ),
    Mutation(
        "the last scale leaves out style layers too",
        "nst/engine.py",
        "settings.at_scale(canvas, last=k == len(scales) - 1),",
        "settings.at_scale(canvas, last=False),",
        (
            "tests/test_wiring.py::test_a_coarse_scale_leaves_out_style_layers_with_few_positions_and_the_last_keeps_them",
        ),
    ),
    Mutation(
        "L-BFGS returns the last image, not the best evaluated",
        "nst/engine.py",
        'if final_total.item() <= best["total"]:',
        "if True:",
        ("tests/test_wiring.py::test_the_best_evaluated_image_is_returned",),
    ),
    Mutation(
        "style_scale ignored",
        "nst/engine.py",
        "round(canvas.size * settings.style_scale)",
        "round(canvas.size * 1.0)",
        ("tests/test_wiring.py::test_style_scale_sets_the_size_the_style_is_seen_at",),
    ),
    Mutation(
        "style_blend weights ignored (equal mix)",
        "nst/settings.py",
        "return tuple(w / total for w in self.style_blend)",
        "return (1.0 / n_styles,) * n_styles",
        ("tests/test_wiring.py::test_style_blend_weighs_the_styles",),
    ),
    Mutation(
        "Gram targets not weighted by the blend",
        "nst/targets.py",
        "grams[layer] + weight * gram if layer in grams else weight * gram",
        "grams[layer] + gram / len(styles) if layer in grams else gram / len(styles)",
        ("tests/test_wiring.py::test_style_blend_weighs_the_styles",),
    ),
    Mutation(
        "the app's API drops style_blend",
        "nst/methods.py",
        "return {k: v for k, v in values.items() if k in names}",
        'return {k: v for k, v in values.items() if k in names and k != "style_blend"}',
        ("tests/test_settings_surface.py::test_an_api_parameter_of_the_same_name_sets_it",),
    ),
    Mutation(
        "every mask takes the first style",
        "nst/regions.py",
        "((k, None, 1.0),)",
        "((0, None, 1.0),)",
        ("tests/test_wiring.py::test_masks_put_each_style_in_its_own_part",),
    ),
    Mutation(
        "segmentation labels ignored (whole style everywhere)",
        "nst/regions.py",
        "source = (0, _label_mask(s_labels, label) if label in in_style else None, 1.0)",
        "source = (0, None, 1.0)",
        ("tests/test_wiring.py::test_segmentations_match_regions_by_label",),
    ),
    Mutation(
        "histogram colour mode leaves the styles' colours",
        "nst/requests.py",
        "[color.match_color_image(s, content) for s in styles]",
        "list(styles)",
        ("tests/test_wiring.py::test_histogram_colour_mode_keeps_the_contents_colours",),
    ),
    Mutation(
        "histogram term reads the style layers",
        "nst/targets.py",
        "kind, settings.hist_layers, style_feats",
        "kind, settings.style_layers, style_feats",
        ("tests/test_wiring.py::test_the_histogram_term_reads_hist_layers",),
    ),
    Mutation(
        "texture command keeps only its first style",
        "nst/cli/texture.py",
        "extra_styles=styles[1:],",
        "extra_styles=(),",
        ("tests/test_cli.py::test_texture_style_weights_reach_the_blend",),
    ),
    Mutation(
        "matting epsilon 1e-5 instead of the paper's 1e-7",
        "nst/photo.py",
        "EPSILON = 1e-7",
        "EPSILON = 1e-5",
        ("tests/test_photo.py",),
    ),
    Mutation(
        "matting epsilon 1e-6",
        "nst/photo.py",
        "EPSILON = 1e-7",
        "EPSILON = 1e-6",
        ("tests/test_photo.py",),
    ),
    Mutation(
        "size bound drops to 16 px",
        "nst/settings.py",
        "MIN_SIZE = 32",
        "MIN_SIZE = 16",
        ("tests/test_settings.py",),
    ),
    Mutation(
        "a CLI flag goes missing (tile_size)",
        "nst/cli/_common.py",
        "        if info.name in skip:\n",
        '        if info.name in skip or info.name == "tile_size":\n',
        ("tests/test_settings_surface.py::test_the_cli_flag_of_the_same_name_sets_it",),
    ),
    Mutation(
        "tile halo one grid step short",
        "nst/tiles.py",
        "return math.ceil(depth / ALIGN) * ALIGN",
        "return math.ceil(depth / ALIGN) * ALIGN - ALIGN",
        ("tests/test_tiles.py",),
    ),
    Mutation(
        "Gram loss normalised by 4N instead of 4N^2",
        "nst/losses.py",
        "return (gram - target).pow(2).sum() / (4.0 * n * n)",
        "return (gram - target).pow(2).sum() / (4.0 * n)",
        (
            "tests/test_losses.py",
            "tests/test_wiring.py::test_the_style_term_reads_style_layers_with_their_weights",
        ),
    ),
    Mutation(
        "L-BFGS second loop reads s_i . y_j for y_i . s_j",
        "nst/lbfgs.py",
        "torch.tril(sy.T, -1)",
        "torch.tril(sy, -1)",
        ("tests/test_lbfgs.py",),
    ),
    Mutation(
        "float16 gradient left scaled",
        "nst/loss_scale.py",
        "leaf.grad.div_(self.value)",
        "pass",
        ("tests/test_loss_scale.py",),
    ),
    Mutation(
        "statistics computed in the network's half precision",
        "nst/engine.py",
        "            try:\n                terms = build_terms(",
        "            try:\n                terms = torch.autocast(dev.type, dtype=net.dtype or torch.float32, "
        "enabled=net.dtype is not None)(build_terms)(",
        ("tests/test_engine.py::test_half_precision_runs_only_the_network_in_half",),
    ),
    Mutation(
        "the page says 'preparing' whenever a step is slow (issue 19, 1)",
        "nst/ui/runner.py",
        "                state = state.replace(seconds=now - started)\n",
        "                state = state.replace(seconds=now - started)\n"
        '                if kind == "tick" and state.phase == "running":\n'
        '                    state = state.replace(phase="preparing", what="network")\n',
        (
            "tests/test_app_page.py::test_the_status_line_tells_each_state_of_a_run_stopped_at_its_coarse_scale",
        ),
    ),
    Mutation(
        "Stop hands back the coarse scale's picture (issue 19, 2)",
        "nst/engine.py",
        "    if Canvas.of(x) != final:",
        "    if False:",
        (
            "tests/test_app_page.py::test_the_status_line_tells_each_state_of_a_run_stopped_at_its_coarse_scale",
            "tests/test_app_api.py::test_stop_ends_a_run_with_its_best_picture_at_full_size",
        ),
    ),
    Mutation(
        "Stop closes the stream instead of waiting for the run's picture",
        "nst/ui/page.py",
        '        self.runner.request_stop(request.session_hash or "")\n',
        '        raise gr.Error("stopped")\n',
        (
            "tests/test_app_page.py::test_the_status_line_tells_each_state_of_a_run_stopped_at_its_coarse_scale",
        ),
    ),
    Mutation(
        "a held upload is swept anyway (issue 19, 3)",
        "nst/ui/cache.py",
        "            keep = {os.path.realpath(k) for k in keep} | set(self._held)",
        "            keep = {os.path.realpath(k) for k in keep}",
        (
            "tests/test_app_lifecycle.py::test_a_held_file_is_never_swept_and_its_age_counts_from_its_last_use",
        ),
    ),
    Mutation(
        "an upload's age counts from its upload, not its last use",
        "nst/ui/cache.py",
        "            for path in real:\n                self.touch(path)",
        "            pass",
        (
            "tests/test_app_lifecycle.py::test_a_held_file_is_never_swept_and_its_age_counts_from_its_last_use",
        ),
    ),
    Mutation(
        "runs wait in Gradio's queue, checked only when their turn comes",
        "app.py",
        "            concurrency_limit=None,  # every run waits in the runner's line, which knows its place",
        "            concurrency_limit=CONFIG.concurrency,",
        ("tests/test_app_page.py::test_runs_are_admitted_at_once_to_wait_in_the_runners_line",),
    ),
    Mutation(
        "the API's runs wait in Gradio's queue (no place in line, uploads swept)",
        "nst/ui/api.py",
        "                concurrency_limit=None,  # every run waits in the runner's line, which knows its place",
        '                concurrency_limit=config.concurrency, concurrency_id="compute",',
        (
            "tests/test_app_api.py::test_a_run_in_line_knows_its_place",
            "tests/test_app_lifecycle.py::test_a_burst_queued_behind_a_long_run_gets_its_pictures",
        ),
    ),
    Mutation(
        "a stop that stays in this process (ZeroGPU's worker never sees it)",
        "nst/ui/runner.py",
        "    def is_set(self) -> bool:\n        return self.path.exists()",
        '    def is_set(self) -> bool:\n        return getattr(self, "_set", False)',
        ("tests/test_app_lifecycle.py::test_a_stop_reaches_a_run_in_another_process",),
    ),
    Mutation(
        "painters in catalogue order: the menu starts on one that cannot run (issue 19, 5)",
        "nst/readiness.py",
        "    return sorted(found, key=lambda m: ORDER[m.state])",
        "    return found",
        ("tests/test_app_lifecycle.py::test_the_banner_the_log_and_the_painter_menu_say_what_can_run",),
    ),
    Mutation(
        "readiness ignores the Hub cache",
        "nst/readiness.py",
        "            here = isinstance(cached, str)",
        "            here = False",
        (
            "tests/test_app_lifecycle.py::test_readiness_says_what_is_here_what_could_be_downloaded_and_what_is_missing",
        ),
    ),
    Mutation(
        "the CLI's help loads torch (issue 19, 6)",
        "nst/cli/_common.py",
        "from ..dials import DIALS, settings_from_values\n",
        "from ..dials import DIALS, settings_from_values\nfrom ..images import save_image  # noqa: F401\n",
        ("tests/test_cli.py::test_help_imports_nothing_heavy",),
    ),
    Mutation(
        "Ctrl+C quits at once, writing nothing",
        "nst/cli/_common.py",
        "        if stop.is_set():\n            raise KeyboardInterrupt",
        "        if True:\n            raise KeyboardInterrupt",
        ("tests/test_cli.py::test_ctrl_c_stops_after_the_step_and_saves_the_best_picture_at_full_size",),
    ),
]


def copy_tree(into: Path) -> None:
    shutil.copytree(
        ROOT,
        into,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".device-data"
        ),
    )


def run(mutation: Mutation, work: Path) -> tuple[bool, float, str]:
    """(caught, seconds, the last line pytest printed)."""
    tree = work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    copy_tree(tree)
    target = tree / mutation.path
    text = target.read_text()
    if text.count(mutation.old) != 1:
        raise SystemExit(
            f"{mutation.name}: the snippet is in {mutation.path} {text.count(mutation.old)} times"
        )
    target.write_text(text.replace(mutation.old, mutation.new))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutation.tests],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    return done.returncode != 0, time.perf_counter() - start, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="names (substrings) of the mutations to run")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or any(o in m.name for o in args.only)]
    lines = [
        f"# Planted bugs — {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. `python benchmarks/mutations.py`: each bug planted alone in a copy of the "
        "working tree, the listed tests run there.",
        "",
        "| planted bug | file | tests | caught | s | pytest's last line |",
        "|---|---|---|---|---|---|",
    ]
    survivors = []
    with tempfile.TemporaryDirectory(prefix="nst-mutations-") as tmp:
        for mutation in chosen:
            caught, seconds, last = run(mutation, Path(tmp))
            print(
                f"{'caught  ' if caught else 'SURVIVED'} {mutation.name} ({seconds:.0f} s): {last}",
                flush=True,
            )
            if not caught:
                survivors.append(mutation.name)
            tests = ", ".join(f"`{t.removeprefix('tests/')}`" for t in mutation.tests)
            lines.append(
                f"| {mutation.name} | `{mutation.path}` | {tests} | {'yes' if caught else '**no**'} | "
                f"{seconds:.0f} | {last.replace('|', '/')} |"
            )
    lines += [
        "",
        f"{len(chosen) - len(survivors)} of {len(chosen)} caught; survivors: {survivors or 'none'}.",
    ]
    out = ROOT / "benchmarks" / "results" / "mutations.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
