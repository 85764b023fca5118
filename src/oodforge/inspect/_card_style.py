"""The inline CSS of the dataset card (system fonts, no ``url()``, no ``@import``)."""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --on: #1a7f37; --off: #8c959f;
  --warn: #bc4c00; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px 28px 48px; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); } h3 { font-size: 15px; margin: 16px 0 8px; }
h3 small { font-weight: normal; color: var(--muted); margin-left: 6px; }
.strip { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 6px; margin: 12px 0 0; }
.strip img { width: 100%; height: auto; display: block; border-radius: 3px; }
nav { margin: 8px 0 0; } nav a { margin-right: 14px; }
.note { color: var(--muted); } .warn { color: var(--warn); font-weight: 600; }
code, pre, dl.kv dd, table.sha td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 24px; }
.cols h3:first-child { margin-top: 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; margin: 4px 0 8px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.scroll table { width: 100%; }
th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { background: var(--head); font-weight: 600; text-align: right; }
td { text-align: right; } tbody th { text-align: left; font-weight: 500; }
td.total { font-weight: 700; } tbody tr:hover td, tbody tr:hover th { background: #f0f4f8; }
#realism td, #realism th { text-align: left; } #realism td.detail { white-space: normal; color: var(--muted);
  font-size: 12.5px; } #realism td.on { color: var(--on); font-weight: 700; }
#realism td.off { color: var(--off); font-weight: 700; } #realism td.na { color: var(--muted); }
#config-splits td, #config-splits th { text-align: left; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--muted); }
pre { background: var(--head); padding: 10px; border-radius: 6px; overflow-x: auto; max-height: 480px; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px 24px; margin-bottom: 8px; }
.charts svg { max-width: 100%; height: auto; }
ul.notes { margin: 6px 0; padding-left: 20px; color: var(--muted); }
.entry { margin: 0 0 22px; padding-bottom: 10px; border-bottom: 1px dashed var(--line); }
.trip { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 6px; }
.trip figure { margin: 0; } .trip img { width: 100%; height: auto; border-radius: 3px; display: block; }
.trip figcaption { color: var(--muted); font-size: 12px; }
.prov { margin-top: 6px; } .prov dl.kv { grid-template-columns: max-content minmax(0, 1fr) max-content minmax(0, 1fr);
  margin-bottom: 6px; } table.inst td, table.inst th { font-size: 12.5px; }
h4 { font-size: 13px; margin: 8px 0 4px; color: var(--muted); font-weight: 600; }
table.realism-params td, table.realism-params th { text-align: left; white-space: normal; font-size: 12.5px; }
table.realism-params td:first-child { width: 3em; }
table.sha th, table.sha td { text-align: left; }
.lightbox { display: none; } .lightbox:target { display: flex; position: fixed; inset: 0; z-index: 10;
  background: rgba(0, 0, 0, 0.85); align-items: center; justify-content: center; padding: 16px; cursor: zoom-out; }
.lightbox img { max-width: 100%; max-height: 100%; object-fit: contain; }
"""
