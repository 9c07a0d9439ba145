"""Drawing a pathway's Mermaid state diagram as SVG on the server (no Mermaid script needed).

The input is the Mermaid text the API serves (`stateDiagram-v2`, `a --> b: trigger`), so the
picture and `GET /pathways/{key}/diagram` can never disagree. States are laid out in columns by
their distance from the start; self-loops are drawn as small arcs.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from html import escape

EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(.+))?$")
BOX_W, BOX_H, COL_W, ROW_H, PAD = 150, 30, 200, 48, 20


def parse_mermaid(text: str) -> tuple[str | None, list[tuple[str, str, str]], list[str]]:
    initial: str | None = None
    edges: list[tuple[str, str, str]] = []
    finals: list[str] = []
    for line in text.splitlines():
        match = EDGE.match(line)
        if not match:
            continue
        source, dest, label = match.group(1), match.group(2), (match.group(3) or "").strip()
        if source == "[*]":
            initial = dest
        elif dest == "[*]":
            finals.append(source)
        else:
            edges.append((source, dest, label))
    return initial, edges, finals


def mermaid_to_svg(text: str, *, diagram_id: str) -> str:
    initial, edges, finals = parse_mermaid(text)
    nodes = list(
        dict.fromkeys([n for e in edges for n in e[:2]] + finals + ([initial] if initial else []))
    )
    column = _columns(initial, edges, nodes)
    rows: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        rows[column[node]].append(node)
    pos = {
        n: (PAD + column[n] * COL_W, PAD + 20 + i * ROW_H)
        for c, members in rows.items()
        for i, n in enumerate(members)
    }
    width = PAD * 2 + (max(column.values(), default=0) + 1) * COL_W
    height = PAD * 2 + 20 + max((len(m) for m in rows.values()), default=1) * ROW_H
    parts = [
        f'<svg id="{escape(diagram_id)}" class="diagram" role="img" width="100%" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="State diagram with {len(nodes)} states and {len(edges)} transitions">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#425563"/>'
        "</marker></defs>",
    ]
    for source, dest, label in edges:
        parts.append(_edge(pos[source], pos[dest], label))
    for node in nodes:
        x, y = pos[node]
        final = node in finals
        parts.append(
            f'<g class="state" data-state="{escape(node)}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="{14 if final else 6}" fill="{"#e8edee" if final else "#fff"}" '
            f'stroke="{"#005eb8" if node == initial else "#425563"}" stroke-width="'
            f'{2.5 if node == initial else 1.2}"/><text x="{x + BOX_W / 2}" y="{y + 19}" '
            f'text-anchor="middle" font-size="12" fill="#1d1d1b">{escape(node)}</text></g>'
        )
    return "".join(parts) + "</svg>"


def _columns(
    initial: str | None, edges: list[tuple[str, str, str]], nodes: list[str]
) -> dict[str, int]:
    out_edges: dict[str, list[str]] = defaultdict(list)
    for source, dest, _ in edges:
        if source != dest:
            out_edges[source].append(dest)
    column: dict[str, int] = {}
    if initial:
        column[initial] = 0
        queue = deque([initial])
        while queue:
            node = queue.popleft()
            for nxt in out_edges[node]:
                if nxt not in column:
                    column[nxt] = column[node] + 1
                    queue.append(nxt)
    for node in nodes:
        column.setdefault(node, max(column.values(), default=-1) + 1)
    return column


def _edge(a: tuple[float, float], b: tuple[float, float], label: str) -> str:
    title = f"<title>{escape(label)}</title>" if label else ""
    if a == b:  # an internal transition: a loop on the box's top edge
        x, y = a[0] + BOX_W - 30, a[1]
        return (
            f'<path class="edge" d="M{x},{y} c 10,-18 30,-18 20,0" fill="none" '
            f'stroke="#768692" marker-end="url(#arrow)">{title}</path>'
        )
    x1, y1 = a[0] + BOX_W, a[1] + BOX_H / 2
    x2, y2 = b[0], b[1] + BOX_H / 2
    if b[0] <= a[0]:  # going back or sideways: leave from the bottom, arrive from the bottom
        x1, y1, x2, y2 = a[0] + BOX_W / 2, a[1] + BOX_H, b[0] + BOX_W / 2, b[1] + BOX_H
        mid = max(y1, y2) + 16
        return (
            f'<path class="edge" d="M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}" fill="none" '
            f'stroke="#768692" marker-end="url(#arrow)">{title}</path>'
        )
    return (
        f'<line class="edge" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#425563" '
        f'marker-end="url(#arrow)">{title}</line>'
    )
