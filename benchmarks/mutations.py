"""Plant known wiring and formula bugs, one at a time, and see which the tests catch.

Each mutation is a one-line patch (an exact snippet, found exactly once, replaced in one file) and the tests
that should catch it. The working tree is copied once (without .git and the virtual environment); every
listed test is first checked to exist and pass there, all together in one run. Then for each mutation that
copy is copied again, the patch applied, and the listed tests run there with this interpreter (pytest's
JUnit XML read back, each mutant given at most ``--timeout`` seconds). Three outcomes:

- caught: a listed test ran and failed: an assertion, ``pytest.fail``, or any exception the planted bug
  raised inside the test's body;
- survived: every listed test ran and passed;
- inconclusive: a timeout, pytest not starting, a collection or usage error, no tests run, an error in a
  fixture's setup or teardown, or a listed test that is missing or fails on the unmutated tree.

The exit status is non-zero when any mutant survived or was inconclusive. Run by hand, not in CI
(about 15 minutes on two busy cores):

    python benchmarks/mutations.py [--only NAME ...] [--timeout SECONDS]

Results: benchmarks/results/mutations.md for the full list (date, commit, machine); a run with ``--only``
writes benchmarks/results/mutations-partial.md instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
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
        "targets = distribution(kind, settings.hist_layers)",
        "targets = distribution(kind, settings.style_layers)",
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
    # ------------------------------------------------------------------ blends and sample weights
    Mutation(
        "style_blend no longer normalised",
        "nst/settings.py",
        "return tuple(w / total for w in self.style_blend)",
        "return tuple(self.style_blend)",
        ("tests/test_blend.py::test_blend_weights_count_only_by_their_ratio[gram]",),
    ),
    Mutation(
        "distribution targets ignore the blend",
        "nst/targets.py",
        "parts.append((held.feats, held.weights(s_mask), weight))",
        "parts.append((held.feats, held.weights(s_mask), 1.0))",
        ("tests/test_blend.py::test_the_heavier_style_of_a_blend_wins_in_every_style_loss",),
    ),
    Mutation(
        "mixture ignores the blend weight",
        "nst/style_losses.py",
        "weights.append(w[keep] * (mass / total))",
        "weights.append(w[keep] / total)",
        (
            "tests/test_blend.py",
            "tests/test_style_losses.py::test_blend_masses_count_by_their_ratio_and_the_heavier_part_wins",
        ),
    ),
    Mutation(
        "BN moments ignore sample weights",
        "nst/style_losses.py",
        "x, q = samples.feats, _weights(samples.weights, samples.feats.shape[1], samples.feats)",
        "x, q = samples.feats, _weights(None, samples.feats.shape[1], samples.feats)",
        ("tests/test_style_losses.py::test_blend_masses_count_by_their_ratio_and_the_heavier_part_wins",),
    ),
    Mutation(
        "Gaussian MMD ignores sample weights",
        "nst/style_losses.py",
        "p = _weights(samples.weights, s.shape[1], s)",
        "p = _weights(None, s.shape[1], s)",
        ("tests/test_style_losses.py::test_blend_masses_count_by_their_ratio_and_the_heavier_part_wins",),
    ),
    Mutation(
        "histogram ignores sample weights",
        "nst/style_losses.py",
        "w = samples.weights.to(torch.float64)[order]",
        "w = torch.ones_like(samples.weights, dtype=torch.float64)[order]",
        ("tests/test_style_losses.py::test_blend_masses_count_by_their_ratio_and_the_heavier_part_wins",),
    ),
    # ------------------------------------------------------------------ every dial
    Mutation(
        "content_fidelity dial's slope 1/4 decade per step, not 1/5",
        "nst/dials.py",
        "lambda f: 10.0 ** ((f - 5.0) / 5.0)",
        "lambda f: 10.0 ** ((f - 5.0) / 4.0)",
        ("tests/test_dials.py::test_each_dials_slope_is_pinned_at_two_points[content_fidelity]",),
    ),
    Mutation(
        "smoothness dial's slope 1/3 decade per step, not 1/2",
        "nst/dials.py",
        "lambda s: 10.0 ** ((s - 3.0) / 2.0)",
        "lambda s: 10.0 ** ((s - 3.0) / 3.0)",
        ("tests/test_dials.py::test_each_dials_slope_is_pinned_at_two_points[smoothness]",),
    ),
    Mutation(
        "hist_strength dial's slope changed (default kept)",
        "nst/dials.py",
        "lambda h: 10.0 ** (h / 5.0)",
        "lambda h: 10.0 * 10.0 ** ((h - 5.0) / 4.0)",
        ("tests/test_dials.py::test_each_dials_slope_is_pinned_at_two_points[hist_strength]",),
    ),
    Mutation(
        "realism dial's slope changed (default kept)",
        "nst/dials.py",
        "lambda r: 10.0 ** (r / 2.0)",
        "lambda r: 1e4 * 10.0 ** ((r - 8.0) / 3.0)",
        ("tests/test_dials.py::test_each_dials_slope_is_pinned_at_two_points[realism]",),
    ),
    Mutation(
        "style_strength dial's slope changed (default kept)",
        "nst/dials.py",
        "lambda s: 10.0 ** (s / 5.0)",
        "lambda s: 10.0 * 10.0 ** ((s - 5.0) / 4.0)",
        ("tests/test_dials.py::test_each_dials_slope_is_pinned_at_two_points[style_strength]",),
    ),
    Mutation(
        "a dial at 0 no longer turns its term off",
        "nst/dials.py",
        "    return lambda x: 0.0 if x == 0 else formula(x)",
        "    return formula",
        ("tests/test_dials.py::test_zero_turns_smoothing_histogram_and_photorealism_off",),
    ),
    # ------------------------------------------------------------------ the server's gates
    Mutation(
        "the upload gate lets the server's own files in the upload folder through (the marker)",
        "nst/ui/uploads.py",
        "inside = real.is_relative_to(self.folder) and real.parent != self.folder",
        "inside = real.is_relative_to(self.folder)",
        ("tests/test_attacks_server.py::test_server_files_are_refused_with_one_sentence_whatever_the_path",),
    ),
    Mutation(
        "a file list's data: URLs are decoded one by one, before all are sized",
        "nst/ui/uploads.py",
        'self._check_data_size(f["url"], what)',
        "pass",
        ("tests/test_attacks_server.py::test_data_urls_are_taken_in_file_lists_as_for_single_files",),
    ),
    Mutation(
        "file lists are capped one file late",
        "nst/ui/uploads.py",
        "if spec.most is not None and len(files) > spec.most:",
        "if spec.most is not None and len(files) > spec.most + 1:",
        ("tests/test_attacks_server.py::test_file_lists_are_capped",),
    ),
    Mutation(
        "a request body's declared length is not checked before it is read",
        "nst/ui/request_limit.py",
        "if size is not None and size > limit:",
        "if False:",
        ("tests/test_attacks_bodies.py::test_fifty_megabytes_to_any_route_is_refused_unread",),
    ),
    Mutation(
        "the cache sweep deletes files whatever their age",
        "nst/ui/cache.py",
        "if path.lstat().st_ctime < cutoff and os.path.realpath(path) not in keep:",
        "if os.path.realpath(path) not in keep:",
        ("tests/test_attacks_files.py::test_sweeping_deletes_by_age_and_keeps_what_the_page_needs",),
    ),
    # ------------------------------------------------------------------ memory, stopping, refusals
    Mutation(
        "the memory check leaves out the matting Laplacian",
        "nst/memory.py",
        "photo = PHOTO_BYTES_PER_PIXEL if settings.photo_weight else 0.0",
        "photo = 0.0",
        (
            "tests/test_tiles.py::test_what_cannot_fit_even_in_tiles_is_refused_before_any_image_is_read",
            "tests/test_attacks_server.py::test_a_run_beyond_the_devices_memory_is_refused_before_any_work",
        ),
    ),
    Mutation(
        "the memory check counts one style image whatever the number",
        "nst/memory.py",
        "    plan_scale(canvas, settings, device, halo(settings.backbone, settings.taps()), n_styles, guided)",
        "    plan_scale(canvas, settings, device, halo(settings.backbone, settings.taps()), 1, guided)",
        (
            "tests/test_attacks_package.py::test_a_run_beyond_the_devices_memory_is_refused_before_any_image_is_read",
            "tests/test_attacks_server.py::test_a_run_beyond_the_devices_memory_is_refused_before_any_work",
        ),
    ),
    Mutation(
        "a stop is not looked at between the styles' targets",
        "nst/targets.py",
        "        for weight, style in zip(blend, styles) if taps else ():\n            check_stop(stop)\n",
        "        for weight, style in zip(blend, styles) if taps else ():\n",
        (
            "tests/test_attacks_package.py::test_a_stop_lands_while_targets_are_built",
            "tests/test_attacks_server.py::test_hanging_up_while_targets_are_built_frees_the_worker_within_seconds",
        ),
    ),
    Mutation(
        "a layer listed twice is taken",
        "nst/settings.py",
        "        seen.add(layer)\n",
        "",
        ("tests/test_attacks_server.py::test_repeated_layers_are_refused_before_any_work",),
    ),
    Mutation(
        "the CLI compares its output with the inputs by name, not by file",
        "nst/images.py",
        "if isinstance(source, (str, os.PathLike)) and os.path.realpath(source) == target:",
        "if isinstance(source, (str, os.PathLike)) and os.fspath(source) == os.fspath(path):",
        ("tests/test_attacks_cli.py::test_an_output_that_is_an_input_is_refused_before_work",),
    ),
    # ------------------------------------------------------------------ settings reaching the run
    Mutation(
        "CycleGAN strength blends the wrong way round",
        "nst/cyclegan.py",
        "painted = photo + strength * (painted - photo)",
        "painted = strength * photo + (1 - strength) * painted",
        ("tests/test_cyclegan.py::test_strength_blends_photo_and_painting",),
    ),
    Mutation(
        "the seed is ignored (noise always from seed 0)",
        "nst/engine.py",
        'torch.Generator(device="cpu").manual_seed(settings.seed)',
        'torch.Generator(device="cpu").manual_seed(0)',
        (
            "tests/test_settings_surface.py::test_changing_it_changes_the_run[seed]",
            "tests/test_engine.py::test_same_seed_same_image_and_different_seed_differs",
        ),
    ),
    Mutation(
        "every init starts from the content",
        "nst/engine.py",
        'if settings.init == "content" and content is not None:',
        "if content is not None:",
        (
            "tests/test_settings_surface.py::test_changing_it_changes_the_run[init]",
            "tests/test_engine.py::test_inits",
        ),
    ),
    Mutation(
        "the pooling setting never reaches the network",
        "nst/requests.py",
        "load_vgg(settings.backbone, settings.pooling, vgg_weights, dev)",
        'load_vgg(settings.backbone, "max", vgg_weights, dev)',
        ("tests/test_settings_surface.py::test_changing_it_changes_the_run[pooling]",),
    ),
    Mutation(
        "the style loss weighs every layer equally when no weights are given (relu5_1 not lighter)",
        "nst/settings.py",
        "        w = self.style_layer_weights or default_layer_weights(self.style_layers)",
        "        w = self.style_layer_weights or (1.0,) * len(self.style_layers)",
        (
            "tests/test_settings.py::test_defaults_are_the_papers_layers_with_the_fifth_block_lighter",
            "tests/test_wiring.py::test_without_weights_a_fifth_block_style_layer_weighs_a_tenth",
        ),
    ),
    Mutation(
        "the fifth block's default weight applies to every layer",
        "nst/settings.py",
        'FIFTH_BLOCK_WEIGHT if layer[4] == "5" else 1.0',
        "FIFTH_BLOCK_WEIGHT",
        (
            "tests/test_settings.py::test_defaults_are_the_papers_layers_with_the_fifth_block_lighter",
            "tests/test_wiring.py::test_without_weights_a_fifth_block_style_layer_weighs_a_tenth",
        ),
    ),
    Mutation(
        "the network cache's key leaves out the pooling",
        "nst/weights.py",
        "key = (backbone, pooling, str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device))",
        "key = (backbone, str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(device))",
        ("tests/test_model_cache.py::test_vgg_and_generators_are_held_by_the_same_policy",),
    ),
    Mutation(
        "tv_weight ignored (always 1)",
        "nst/targets.py",
        "terms.append((TVLoss(), settings.tv_weight))",
        "terms.append((TVLoss(), 1.0))",
        ("tests/test_settings_surface.py::test_changing_it_changes_the_run[tv_weight]",),
    ),
    # ------------------------------------------------------------------ tiles and the Gram cache
    Mutation(
        "a tiled step keeps only its last tile's sums",
        "nst/tiles.py",
        "sums[k][key] = sums[k][key] + value if key in sums[k] else value",
        "sums[k][key] = value",
        ("tests/test_tiles.py::test_tiled_loss_and_gradient_equal_the_whole_pictures",),
    ),
    Mutation(
        "a tiled style's Gram target keeps only its last tile's sum",
        "nst/targets.py",
        "sums[layer] = sums[layer] + part if layer in sums else part",
        "sums[layer] = part",
        ("tests/test_tiles.py::test_tiled_passes_give_the_whole_images_targets",),
    ),
    Mutation(
        "the Gram target cache's key leaves out the layers",
        "nst/targets.py",
        "tuple(style.shape), tuple(layers), net.dtype)",
        "tuple(style.shape), net.dtype)",
        ("tests/test_engine.py::test_a_style_used_again_reuses_its_gram_targets_and_nothing_else_does",),
    ),
    Mutation(
        "the Gram target cache's key leaves out the precision",
        "nst/targets.py",
        "tuple(style.shape), tuple(layers), net.dtype)",
        "tuple(style.shape), tuple(layers))",
        ("tests/test_engine.py::test_a_style_used_again_reuses_its_gram_targets_and_nothing_else_does",),
    ),
    Mutation(
        "keep_faces: the style's positions not weighed on faces",
        "nst/targets.py",
        "style_gain = None if face_mask is None else 1.0 - settings.face_strength * face_mask",
        "style_gain = None",
        ("tests/test_faces.py::test_the_face_mask_weighs_both_losses_as_documented",),
    ),
    Mutation(
        "keep_faces: the content gain ignores face_strength",
        "nst/targets.py",
        "gain = faces.CONTENT_GAIN * settings.face_strength",
        "gain = faces.CONTENT_GAIN",
        ("tests/test_faces.py::test_the_face_mask_weighs_both_losses_as_documented",),
    ),
    Mutation(
        "keep_faces: the mask on the face's box centre, not raised to the forehead",
        "nst/faces.py",
        "cy = ((top + bottom) / 2 - RAISE * (bottom - top)) * sy",
        "cy = (top + bottom) / 2 * sy",
        ("tests/test_faces.py::test_the_face_mask_is_the_documented_soft_ellipse_on_any_canvas",),
    ),
    Mutation(
        "keep_faces: only the first face kept",
        "nst/faces.py",
        "    for face in faces:",
        "    for face in faces[:1]:",
        ("tests/test_faces.py::test_the_face_mask_is_the_documented_soft_ellipse_on_any_canvas",),
    ),
    Mutation(
        "keep_faces: tiles drop the content's gain",
        "nst/losses.py",
        "tile.region(self.gains[layer], layer) if layer in self.gains else None,",
        "None,",
        ("tests/test_tiles.py::test_kept_faces_tiled_equal_the_whole_picture",),
    ),
    Mutation(
        "keep_faces: faces looked for even when it is off",
        "nst/settings.py",
        'return self.keep_faces == "auto" and self.face_strength > 0',
        "return True",
        ("tests/test_faces.py::test_faces_are_looked_for_only_when_keep_faces_is_on",),
    ),
    Mutation(
        "keep_faces: the faces found never reach the engine",
        "nst/requests.py",
        "            faces=plan.faces,",
        "            faces=None,",
        (
            "tests/test_faces.py::test_the_face_mask_weighs_both_losses_as_documented",
            "tests/test_settings_surface.py::test_changing_it_changes_the_run[keep_faces]",
        ),
    ),
    Mutation(
        "keep_faces: a poster looked at whole",
        "nst/faces.py",
        "looked = shown.fit(min(shown.size, DETECT_SIDE))",
        "looked = shown",
        ("tests/test_faces.py::test_a_poster_is_looked_at_shrunk_and_its_boxes_scaled_back",),
    ),
    Mutation(
        "masks: the guided Gram loss's kept style features not counted in the memory plan",
        "nst/memory.py",
        'if settings.style_weight and (settings.style_loss != "gram" or guided):',
        'if settings.style_weight and settings.style_loss != "gram":',
        ("tests/test_tiles.py::test_a_guided_gram_loss_counts_the_style_features_it_keeps",),
    ),
    Mutation(
        "keep_faces: the Gram loss of a layer not weighed by the share of the picture its positions keep",
        "nst/losses.py",
        "            self.scales[layer] *= float(q.mean())",
        "            pass",
        ("tests/test_faces.py::test_the_face_mask_weighs_both_losses_as_documented",),
    ),
    Mutation(
        "keep_faces: a tile's Gram sum ignores the positions' weights",
        "nst/losses.py",
        "return gram_sum(features[layer], None if q is None else tile.region(q, layer))",
        "return gram_sum(features[layer])",
        ("tests/test_tiles.py::test_kept_faces_tiled_equal_the_whole_picture[gram]",),
    ),
    Mutation(
        "keep_faces: the page's tick ignored",
        "nst/settings.py",
        'set_("keep_faces", "auto" if self.keep_faces else "off")',
        'set_("keep_faces", "auto")',
        ("tests/test_faces.py::test_a_settings_keep_faces_and_its_strength",),
    ),
]


IGNORED = (".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".device-data")

CAUGHT, SURVIVED, INCONCLUSIVE = "caught", "survived", "inconclusive"


@dataclass
class Case:
    """One test case of a pytest run, as its JUnit XML file tells it."""

    nodeid: str
    #: passed; failed (the test's body raised); error (its setup or teardown, or collecting its file);
    #: skipped; timeout (pytest-timeout ended it)
    outcome: str
    message: str = ""


@dataclass
class Result:
    outcome: str  # caught, survived or inconclusive
    seconds: float
    detail: str


def copy_tree(source: Path, into: Path) -> None:
    shutil.copytree(source, into, ignore=shutil.ignore_patterns(*IGNORED))


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def nodeid_of(case: ET.Element) -> str:
    """The pytest node id of a JUnit <testcase> (xunit1: its file, classname and name)."""
    file, classname, name = case.get("file", ""), case.get("classname", ""), case.get("name", "")
    if not classname:  # a collection error: the module's dotted path as the name
        return file or name.replace(".", "/") + ".py"
    module = file.removesuffix(".py").replace("/", ".")
    classes = classname.removeprefix(module).strip(".")
    return "::".join([file, *([classes.replace(".", "::")] if classes else []), name])


def read_junit(path: Path) -> list[Case] | None:
    """Every test case of the run (None when pytest wrote no readable file: it did not start)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    cases = []
    for case in root.iter("testcase"):
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if failure is not None:
            message = failure.get("message", "")
            # pytest-timeout fails a test that ran too long with "Failed: Timeout >600.0s"
            outcome = "timeout" if message.startswith("Failed: Timeout") else "failed"
        elif error is not None:
            outcome, message = "error", error.get("message", "")
        elif skipped is not None:
            outcome, message = "skipped", skipped.get("message", "")
        else:
            outcome, message = "passed", ""
        cases.append(Case(nodeid_of(case), outcome, message))
    return cases


def covers(test: str, nodeid: str) -> bool:
    """Whether a listed test (a file or a node id) covers a collected node id."""
    if "::" not in test:
        return nodeid.startswith(test + "::")
    return nodeid == test or nodeid.startswith(test + "[") or nodeid.startswith(test + "::")


def pytest(tree: Path, work: Path, args: list[str], timeout: float) -> tuple[int | None, str, float]:
    """Run pytest in ``tree`` (its own process group, killed whole at the end): (exit code, or None when it
    ran past ``timeout``; its output; seconds)."""
    log = work / "pytest.log"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=tree,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        try:  # the run, or what it left behind (servers, workers): only this run's own process group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    return code, log.read_text(errors="replace"), time.perf_counter() - start


def last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return one_line(lines[-1].strip("= ")) if lines else "(no output)"


def collected(tree: Path, work: Path, tests: list[str], timeout: float) -> tuple[set[str], dict[str, str]]:
    """(the node ids pytest collects from the listed tests' files, {file: why it collects nothing})."""
    files = sorted({t.split("::")[0] for t in tests})
    problems = {f: "no such file" for f in files if not (tree / f).is_file()}
    present = [f for f in files if f not in problems]
    if not present:
        return set(), problems
    code, output, _ = pytest(tree, work, ["--collect-only", "-q", *present], timeout)
    ids = {
        line.strip() for line in output.splitlines() if "::" in line and not line.startswith(("ERROR", "  "))
    }
    for f in present:
        if not any(i.startswith(f + "::") for i in ids):
            problems[f] = "collection failed" if code is None or code != 0 else "no tests collected"
    if code is None:
        problems.update({f: "collection timed out" for f in present})
    return ids, problems


def baseline(tree: Path, work: Path, tests: list[str], timeout: float) -> tuple[dict[str, str], float]:
    """Each listed test's standing on the unmutated tree: {test: "" when it exists and passes, else why not},
    all of them run together once; and the seconds it took."""
    start = time.perf_counter()
    ids, problems = collected(tree, work, tests, timeout)
    standing: dict[str, str] = {}
    for test in tests:
        file = test.split("::")[0]
        if file in problems:
            standing[test] = f"{file}: {problems[file]}"
        elif not any(covers(test, i) for i in ids):
            standing[test] = "not found"
    runnable = [t for t in tests if t not in standing]
    if runnable:
        junit = work / "baseline.xml"
        junit.unlink(missing_ok=True)
        code, output, _ = pytest(
            tree, work, ["-q", f"--junitxml={junit}", "-o", "junit_family=xunit1", *runnable], timeout
        )
        cases = read_junit(junit) or []
        for test in runnable:
            mine = [c for c in cases if covers(test, c.nodeid)]
            bad = [c for c in mine if c.outcome != "passed"]
            if code is None:
                standing[test] = f"the unmutated run timed out after {timeout:.0f} s"
            elif not mine:
                standing[test] = f"did not run unmutated ({last_line(output)})"
            elif bad:
                standing[test] = (
                    f"{bad[0].outcome} unmutated: {bad[0].nodeid}: {one_line(bad[0].message, 120)}"
                )
            else:
                standing[test] = ""
    return standing, time.perf_counter() - start


def judge(
    code: int | None, output: str, cases: list[Case] | None, tests: tuple[str, ...], timeout: float
) -> tuple[str, str]:
    """caught: a listed test ran and failed (an assertion, pytest.fail, or any exception the planted bug
    raised inside the test); survived: every listed test ran and passed; anything else is inconclusive
    (a timeout, pytest not starting, a collection or usage error, no tests, an error in a fixture's setup
    or teardown, a listed test that did not run or was skipped)."""
    if code is None:
        return INCONCLUSIVE, f"timed out after {timeout:.0f} s"
    if code in (2, 3, 4, 5):
        why = {2: "interrupted or collection error", 3: "internal error", 4: "usage error", 5: "no tests ran"}
        return INCONCLUSIVE, f"pytest exit code {code} ({why[code]}): {last_line(output)}"
    if cases is None:
        return INCONCLUSIVE, f"pytest wrote no results (exit code {code}): {last_line(output)}"
    mine = [c for c in cases if any(covers(t, c.nodeid) for t in tests)]
    failed = [c for c in mine if c.outcome == "failed"]
    if failed:
        return CAUGHT, f"{failed[0].nodeid.removeprefix('tests/')}: {one_line(failed[0].message, 120)}"
    other = [c for c in mine if c.outcome != "passed"]
    if other:
        return (
            INCONCLUSIVE,
            f"{other[0].outcome}: {other[0].nodeid.removeprefix('tests/')}: {one_line(other[0].message, 120)}",
        )
    missing = [t for t in tests if not any(covers(t, c.nodeid) for c in mine)]
    if missing:
        return INCONCLUSIVE, f"did not run: {', '.join(missing)} ({last_line(output)})"
    if code != 0:
        return INCONCLUSIVE, f"pytest exit code {code} with every listed test passed: {last_line(output)}"
    return SURVIVED, last_line(output)


def plant(mutation: Mutation, snapshot: Path, work: Path, timeout: float) -> Result:
    tree = work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    copy_tree(snapshot, tree)
    target = tree / mutation.path
    text = target.read_text()
    if text.count(mutation.old) != 1:
        raise SystemExit(
            f"{mutation.name}: the snippet is in {mutation.path} {text.count(mutation.old)} times"
        )
    target.write_text(text.replace(mutation.old, mutation.new))
    junit = work / "mutant.xml"
    total = 0.0
    # -x: the first failure decides. A run that -x stopped on an error (a fixture's setup) runs again
    # without it, so a listed test after the error still gets its chance to fail.
    for stop_early in (True, False):
        junit.unlink(missing_ok=True)
        args = ["-q", *(["-x"] if stop_early else []), f"--junitxml={junit}", "-o", "junit_family=xunit1"]
        code, output, seconds = pytest(tree, work, [*args, *mutation.tests], timeout)
        total += seconds
        outcome, detail = judge(code, output, read_junit(junit), mutation.tests, timeout)
        if not (stop_early and outcome == INCONCLUSIVE and code == 1):
            break
    return Result(outcome, total, detail)


def revision() -> str:
    """The commit (short) the working tree is at, and whether it has uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return commit + (" + uncommitted changes" if git("status", "--porcelain") else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="names (substrings) of the mutations to run")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds each mutant's tests may run")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or any(o in m.name for o in args.only)]
    if not chosen:
        raise SystemExit(f"no mutation's name contains any of {args.only}")
    names = [m.name for m in MUTATIONS]
    if len(set(names)) != len(names):
        raise SystemExit("two mutations share a name")
    partial = args.only is not None and len(chosen) < len(MUTATIONS)
    started, clock = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    commit = revision()
    tests = list(dict.fromkeys(t for m in chosen for t in m.tests))
    results: list[tuple[Mutation, Result]] = []
    with tempfile.TemporaryDirectory(prefix="nst-mutations-") as tmp:
        work = Path(tmp)
        snapshot = work / "snapshot"  # one copy for the whole run: edits made meanwhile do not leak in
        copy_tree(ROOT, snapshot)
        for mutation in chosen:
            count = (snapshot / mutation.path).read_text().count(mutation.old)
            if count != 1:
                raise SystemExit(f"{mutation.name}: the snippet is in {mutation.path} {count} times")
        tree = work / "tree"
        copy_tree(snapshot, tree)
        standing, seconds = baseline(tree, work, tests, 3 * args.timeout)
        unfit = {t: why for t, why in standing.items() if why}
        print(
            f"baseline: {len(tests) - len(unfit)} of {len(tests)} listed tests pass unmutated ({seconds:.0f} s)",
            flush=True,
        )
        for test, why in unfit.items():
            print(f"  {test}: {why}", flush=True)
        for mutation in chosen:
            bad = [t for t in mutation.tests if standing[t]]
            if bad:
                result = Result(
                    INCONCLUSIVE, 0.0, "not planted: " + "; ".join(f"{t}: {standing[t]}" for t in bad)
                )
            else:
                result = plant(mutation, snapshot, work, args.timeout)
            results.append((mutation, result))
            print(
                f"{result.outcome:<12} {mutation.name} ({result.seconds:.0f} s): {result.detail}", flush=True
            )
    total = time.perf_counter() - clock
    count = {o: [m.name for m, r in results if r.outcome == o] for o in (CAUGHT, SURVIVED, INCONCLUSIVE)}
    command = "python benchmarks/mutations.py" + (
        " --only " + " ".join(repr(o) for o in args.only) if partial else ""
    )
    lines = [
        f"# Planted bugs{' (a subset)' if partial else ''} — {started}",
        "",
        f"- Commit: {commit}",
        f"- Machine: {machine()}",
        f"- Command: `{command}`: each bug planted alone in a copy of the working tree, the listed tests run "
        f"there (at most {args.timeout:.0f} s). Caught: a listed test ran and failed; survived: they all "
        "passed; inconclusive: a timeout, a collection or start-up failure, an error outside a test's body, "
        "or a listed test missing or failing on the unmutated tree.",
        f"- Baseline: {len(tests) - len(unfit)} of {len(tests)} listed tests exist and pass unmutated "
        f"({seconds:.0f} s, all together).",
        f"- Run time: {total / 60:.1f} min.",
        "",
        "| planted bug | file | tests | outcome | s | detail |",
        "|---|---|---|---|---|---|",
    ]
    for mutation, result in results:
        tests_cell = ", ".join(f"`{t.removeprefix('tests/')}`" for t in mutation.tests)
        outcome = result.outcome if result.outcome == CAUGHT else f"**{result.outcome}**"
        lines.append(
            f"| {mutation.name} | `{mutation.path}` | {tests_cell} | {outcome} | {result.seconds:.0f} | "
            f"{result.detail.replace('|', '/')} |"
        )
    summary = [
        f"{len(count[CAUGHT])} of {len(results)} caught, {len(count[SURVIVED])} survived, "
        f"{len(count[INCONCLUSIVE])} inconclusive ({total / 60:.1f} min)."
    ]
    for outcome in (SURVIVED, INCONCLUSIVE):
        if count[outcome]:
            summary.append(f"{outcome.capitalize()}: " + "; ".join(count[outcome]) + ".")
    lines += ["", *summary]
    out = ROOT / "benchmarks" / "results" / ("mutations-partial.md" if partial else "mutations.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(summary))
    print(f"written to {out.relative_to(ROOT)}")
    sys.exit(1 if count[SURVIVED] or count[INCONCLUSIVE] else 0)


if __name__ == "__main__":
    main()
