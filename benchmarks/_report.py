"""Markdown tables from the JSON the benchmarks write (ratios, never bare times)."""

from __future__ import annotations

from typing import Any

PEERS_2D = [
    "opencv sepFilter2D 1t", "opencv sepFilter2D 2t", "opencv filter2D 1t", "opencv filter2D 2t",
    "torch conv2d x2", "torch conv2d", "scipy correlate1d x2", "scipy correlate", "numpy shift-add",
]


def _x(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def _header(result: dict[str, Any]) -> list[str]:
    env = result["environment"]
    versions = ", ".join(f"{k} {env[k]}" for k in ("numpy", "numba", "scipy", "cv2", "torch")
                         if env.get(k))
    threads = ", ".join(f"{k}: {v}" for k, v in result["threads"].items())
    return [
        f"Measured {env['date']} on {env['cpu']} ({env['cpus_available']} CPUs available, "
        f"load average at start {env['load_average'][0]:.1f}); Python {env['python']}, {versions}.",
        f"Threads: {threads}.",
        "",
        "Each figure is peer time ÷ sepconv time, the median over "
        f"{result['rounds']} interleaved rounds (5 for peers slower than 0.3 s) of the per-round "
        "ratio: above 1 sepconv is faster. Absolute times are in filters.json.",
        "",
    ]


def _table_2d(cases: list[dict[str, Any]]) -> list[str]:
    peers = [p for p in PEERS_2D if any(p in c["speedup"] for c in cases)]
    lines = [
        "| input | k | sepconv ÷ best OpenCV sepFilter2D (time) | " + " | ".join(peers) + " |",
        "|---|---|---|" + "---|" * len(peers),
    ]
    for c in cases:
        best = c["opencv_sepFilter2D_best"]["time_ratio"]
        cells = [_x(c["speedup"].get(p)) for p in peers]
        lines.append(f"| {c['dtype']} | {c['k']} | {best:.2f} | " + " | ".join(cells) + " |")
    return lines


def _table(case: dict[str, Any]) -> list[str]:
    peers = list(case["speedup"])
    return ["| " + " | ".join(peers) + " |", "|" + "---|" * len(peers),
            "| " + " | ".join(_x(case["speedup"][p]) for p in peers) + " |"]


def _acceptance(cases: list[dict[str, Any]]) -> list[str]:
    by_name = {c["name"]: c for c in cases}
    f32 = [c for c in cases if c.get("dtype") == "float32" and "k" in c and "opencv_sepFilter2D_best" in c]
    worst = max(c["opencv_sepFilter2D_best"]["time_ratio"] for c in f32)
    k7 = next(c for c in f32 if c["k"] == 7)
    scipy7 = k7["speedup"]["scipy correlate1d x2"]
    auto = max(c["auto_vs_separable_time_ratio"] for c in f32)
    log = by_name["2-D LoG 15x15 (rank 2)"]
    log_ratio = log["opencv_filter2D_best"]["time_ratio"]
    memory = next(c for c in cases if c["name"].startswith("peak RSS"))
    checks = [
        (f"float32 reflect: sepconv ≤ 1.25× OpenCV sepFilter2D's best time at every k "
         f"(worst k: {worst:.2f}×)", worst <= 1.25),
        (f"≥ 10× faster than scipy's two correlate1d passes at k = 7 ({scipy7:.1f}×)", scipy7 >= 10),
        (f"correlate(img, outer(g, g)) within 1.2× of correlate_separable (worst k: {auto:.2f}×)",
         auto <= 1.2),
        (f"LoG 15×15 through correlate faster than cv2.filter2D ({log_ratio:.2f}× its time, "
         f"method {log['method']}) and within 1e-5 of scipy "
         f"(max error {log['max_abs_error_vs_scipy']:.1e})",
         log_ratio < 1 and log["max_abs_error_vs_scipy"] <= 1e-5),
        (f"peak RSS rise ≤ 1.3× the output ({memory['rise_over_output']:.2f}×)",
         memory["rise_over_output"] <= 1.3),
    ]
    return [f"- [{'x' if ok else ' '}] {text}" for text, ok in checks]


def filters_markdown(result: dict[str, Any]) -> str:
    cases = result["cases"]
    lines = ["# Filter benchmark (benchmarks/filters.py)", "", *_header(result)]
    lines += ["## Separable Gaussian, 2-D, mode reflect", "", *_table_2d(
        [c for c in cases if "opencv_sepFilter2D_best" in c]), ""]
    for c in cases:
        if "opencv_sepFilter2D_best" in c or "speedup" not in c:
            continue
        lines += [f"## {c['name']}", "", *_table(c), ""]
        if "max_abs_error_vs_scipy" in c:
            lines += [f"sepconv's plan: `{c['method']}`; sepconv ÷ best cv2.filter2D time: "
                      f"{c['opencv_filter2D_best']['time_ratio']:.2f}; max |sepconv − scipy| = "
                      f"{c['max_abs_error_vs_scipy']:.1e}.", ""]
    memory = next(c for c in cases if c["name"].startswith("peak RSS"))
    lines += ["## Memory", "", f"{memory['name']}: peak RSS rose by "
              f"{memory['rise_over_output']:.2f}× the output's size "
              f"({memory['rise_bytes'] / 2**20:.0f} MiB for a {memory['output_bytes'] / 2**20:.0f} "
              "MiB output).", ""]
    if not result.get("quick"):
        lines += ["## Acceptance (issue 3)", "", *_acceptance(cases), ""]
    return "\n".join(lines)
