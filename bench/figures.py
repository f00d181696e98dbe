"""Turning measured runs into figures: medians per peer, ratios to
pytest-xdist load, the printed table, the target checks and the SVG chart.
Pure functions over the result dictionaries bench/run builds."""
import html
import statistics

FIELDS = ("wall", "startup", "first_result", "makespan", "lower_bound", "work", "longest",
          "median_test", "rss_kb", "cpu_s", "tree_rss_kb", "tree_cpu_s", "engine_cpu_s", "engine_cpu_ms_per_test")


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(peer_runs):
    """Medians over the successful runs of one peer. peer_runs: list of run
    dicts (see bench/run measure_*). Returns a flat dict of figures."""
    ok = [r for r in peer_runs if r.get("ok")]
    s = {"runs": len(peer_runs), "ok_runs": len(ok)}
    for f in FIELDS:
        s[f] = _median([r.get(f) for r in ok])
    s["walls"] = [r.get("wall") for r in peer_runs]
    phases, spans = {}, {}
    for r in ok:
        ph = r.get("phases") or {}
        sp = r.get("spans") or {}
        for k, v in ph.items():
            phases.setdefault(k, []).append(v)
        for k, v in sp.items():
            spans.setdefault(k, []).append(v)
        if ph and r.get("startup") is not None:
            # What start-up waits for after the last phase ends: pytest's
            # import and collection in the first worker, where they did
            # not overlap the phases (which overlap each other: the
            # databases are made while the containers start). Without
            # spans (an older xdock) the phases ran one after another.
            ends = [e for _, e in sp.values()] if sp else [sum(ph.values())]
            phases.setdefault("rest(collect)", []).append(r["startup"] - max(ends))
        if r.get("report_duration") is not None:
            phases.setdefault("teardown", []).append(r["wall"] - r["report_duration"])
    s["phases"] = {k: _median(v) for k, v in phases.items()}
    # When each phase ran: median start and median end, seconds since
    # xdock's start.
    s["spans"] = {k: [_median([a for a, _ in v]), _median([e for _, e in v])] for k, v in spans.items()}
    if s["makespan"] and s["lower_bound"]:
        s["makespan_vs_lb"] = s["makespan"] / s["lower_bound"]
    if s["wall"] and s["lower_bound"] is not None and s["startup"] is not None:
        s["wall_vs_lb_plus_startup"] = s["wall"] / (s["lower_bound"] + s["startup"])
    errors = [r.get("error") for r in peer_runs if not r.get("ok")]
    if errors:
        s["errors"] = errors
    return s


def add_ratios(suite_summary, baseline="xdist-load"):
    base = suite_summary.get(baseline, {}).get("wall")
    for s in suite_summary.values():
        s["ratio_to_xdist_load"] = (s["wall"] / base) if (base and s.get("wall")) else None


def _fmt(v, spec=".2f", none="-"):
    return none if v is None else format(v, spec)


def table(results):
    """The printed table: one block per suite."""
    out = []
    hdr = (f"{'peer':<22} {'n':>2} {'wall s':>7} {'x load':>6} {'makespan':>8} {'LB s':>6} {'ms/LB':>5} "
           f"{'w/(LB+st)':>9} {'start s':>7} {'1st res':>7} {'med ms':>6} {'orch MB':>7} {'orch cpu':>8} {'dockerd':>7} {'ok':>5}")
    for suite, sres in results["suites"].items():
        out.append(f"== {suite}: {sres['meta']['tests']} tests, -n {sres['workers']}")
        out.append(hdr)
        for peer, s in sres["peers"].items():
            n = 1 if peer == "pytest" else sres["workers"]
            out.append(
                f"{peer:<22} {n:>2} {_fmt(s['wall']):>7} {_fmt(s.get('ratio_to_xdist_load')):>6} "
                f"{_fmt(s['makespan']):>8} {_fmt(s['lower_bound']):>6} {_fmt(s.get('makespan_vs_lb')):>5} "
                f"{_fmt(s.get('wall_vs_lb_plus_startup')):>9} {_fmt(s['startup']):>7} "
                f"{_fmt(s['first_result']):>7} "
                f"{_fmt(s['median_test'] * 1000 if s.get('median_test') is not None else None, '.1f'):>6} "
                f"{_fmt(s['rss_kb'] / 1024 if s['rss_kb'] else None, '.1f'):>7} "
                f"{_fmt(s['cpu_s']):>8} {_fmt(s.get('engine_cpu_s')):>7} {s['ok_runs']:>2}/{s['runs']:<2}")
        split = [(p, s["phases"]) for p, s in sres["peers"].items() if s.get("phases")]
        if split:
            out.append("   xdock start-up split (median s):")
            for p, ph in split:
                out.append(f"   {p:<22} " + " ".join(f"{k}={_fmt(v)}" for k, v in ph.items()))
        order = [(p, s["spans"], s["startup"], s["first_result"]) for p, s in sres["peers"].items() if s.get("spans")]
        if order:
            out.append("   xdock start-up order (median start-end s; the phases overlap):")
            for p, sp, st, fr in order:
                out.append(f"   {p:<22} " + " ".join(f"{k}={_fmt(a)}-{_fmt(e)}" for k, (a, e) in sp.items())
                           + f" collected={_fmt(st)} 1st-result={_fmt(fr)}")
        out.append("")
    mem = results.get("memory_check")
    if mem:
        out.append(f"== memory check: {mem['tests']} trivial tests, -n {mem['workers']}, --db none")
        for peer, m in mem["peers"].items():
            out.append(f"{peer:<22} peak RSS {_fmt(m.get('rss_kb') / 1024 if m.get('rss_kb') else None, '.1f')} MB"
                       f"  cpu {_fmt(m.get('cpu_s'))} s  wall {_fmt(m.get('wall'))} s  ok={m.get('ok')}")
        out.append("")
    return "\n".join(out)


def targets(results):
    """The project's targets, checked against the figures. A list of
    (description, value text, met: True/False/None when not measured)."""
    t = []
    su = results["suites"]

    def peer(suite, name):
        return su.get(suite, {}).get("peers", {}).get(name)

    def add(desc, value, met):
        t.append({"target": desc, "value": value, "met": met})

    s = peer("connect", "xdock-load")
    if s and s.get("ratio_to_xdist_load"):
        add(f"connect -n {su['connect']['workers']}: xdock wall <= 1.0 x xdist (host server)",
            f"{s['ratio_to_xdist_load']:.2f}x", s["ratio_to_xdist_load"] <= 1.0)
    x = peer("connect", "xdist-load")
    if s and x and s.get("median_test") and x.get("median_test"):
        # The per-test cost of a database test: the same test inside a
        # worker against the embedded server, and on the host against the
        # host server.
        r = s["median_test"] / x["median_test"]
        add("connect: median test in a worker within 10% of the host's",
            f"{s['median_test'] * 1000:.2f} ms vs {x['median_test'] * 1000:.2f} ms ({r:.2f}x)", r <= 1.10)
    s = peer("trivial", "xdock-load")
    if s and s.get("ratio_to_xdist_load"):
        add(f"trivial -n {su['trivial']['workers']}: xdock wall <= 1.0 x xdist",
            f"{s['ratio_to_xdist_load']:.2f}x", s["ratio_to_xdist_load"] <= 1.0)
    s = peer("skewed", "xdock-load+hist")
    if s and s.get("ratio_to_xdist_load"):
        add(f"skewed -n {su['skewed']['workers']}: xdock (history) >= 15% faster than xdist load",
            f"{s['ratio_to_xdist_load']:.2f}x", s["ratio_to_xdist_load"] <= 0.85)
        v = s.get("wall_vs_lb_plus_startup")
        add("skewed: xdock (history) wall within 10% of lower bound + start-up",
            _fmt(v) + "x" if v else "-", (v <= 1.10) if v else None)
    for name, limit in (("xdock-load", 0.7), ("xdock-load+reuse-db", 0.5)):
        s = peer("database", name)
        if s and s.get("ratio_to_xdist_load"):
            add(f"database -n {su['database']['workers']}: {name} <= {limit} x xdist",
                f"{s['ratio_to_xdist_load']:.2f}x", s["ratio_to_xdist_load"] <= limit)
    for suite, sres in su.items():
        x = sres.get("peers", {}).get("xdist-load", {}).get("first_result")
        d = sres.get("peers", {}).get("xdock-load", {}).get("first_result")
        if x is not None and d is not None:
            add(f"{suite}: xdock first result within 0.5 s of xdist's",
                f"{d:.2f} s vs {x:.2f} s ({d - x:+.2f} s)", d - x <= 0.5)
    mc = results.get("memory_check", {})
    mem = mc.get("peers", {}).get("xdock-load")
    xmem = mc.get("peers", {}).get("xdist-load (controller)")
    if mem and mem.get("rss_kb") and xmem and xmem.get("rss_kb"):
        add(f"orchestrator peak memory < 1/4 of xdist's controller at {mc['tests']} tests",
            f"{mem['rss_kb'] / 1024:.1f} MB vs {xmem['rss_kb'] / 1024:.1f} MB ({mem['rss_kb'] / xmem['rss_kb']:.2f})",
            mem["rss_kb"] < xmem["rss_kb"] / 4)
    return t


PALETTE = {"pytest": "#888888", "xdist-load": "#1f77b4", "xdist-loadfile": "#6baed6",
           "xdock-load": "#d62728", "xdock-loadfile": "#ff9896", "xdock-load+hist": "#2ca02c",
           "xdock-loadfile+hist": "#98df8a", "xdock-load+reuse-db": "#9467bd", "xdock-load+longest": "#bcbd22"}


def svg(results):
    """Small multiples: one panel per suite (own scale), one horizontal bar
    per peer, median wall time, min-max of the runs as a whisker."""
    panel_w, bar_h, gap, label_w = 560, 16, 4, 150
    y = 40
    parts = []
    for suite, sres in results["suites"].items():
        peers = sres["peers"]
        walls = [w for s in peers.values() for w in s["walls"] if w]
        top = max(walls) if walls else 1.0
        scale = (panel_w - label_w - 70) / top
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{html.escape(suite)} '
                     f'({sres["meta"]["tests"]} tests, -n {sres["workers"]})</text>')
        y += 8
        for peer, s in peers.items():
            y += bar_h + gap
            color = PALETTE.get(peer, "#444")
            parts.append(f'<text x="{label_w - 6}" y="{y - 4}" text-anchor="end">{html.escape(peer)}</text>')
            if s["wall"]:
                w = s["wall"] * scale
                parts.append(f'<rect x="{label_w}" y="{y - bar_h}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
                ok = [v for v in s["walls"] if v]
                lo, hi = min(ok) * scale, max(ok) * scale
                mid = y - bar_h / 2
                parts.append(f'<line x1="{label_w + lo:.1f}" x2="{label_w + hi:.1f}" y1="{mid}" y2="{mid}" '
                             f'stroke="black" stroke-width="1"/>')
                parts.append(f'<text x="{label_w + max(w, hi) + 4:.1f}" y="{y - 4}">{s["wall"]:.2f} s</text>')
            else:
                parts.append(f'<text x="{label_w + 4}" y="{y - 4}" fill="red">failed</text>')
        y += 30
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{panel_w}" height="{y}" '
            f'font-family="sans-serif" font-size="12">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="20" font-size="14">Wall time per suite and peer (median; line: min-max)</text>')
    return head + "".join(parts) + "</svg>\n"
