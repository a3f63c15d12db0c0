"""The dashboard's look: a glass-morphism Gradio theme, its CSS, and the palette the charts share.

Dark glass on a deep gradient in both of Gradio's light and dark modes (the charts are drawn for
one background, so the page does not switch under them). Fonts are system fonts: no request
leaves the machine to render the page.
"""

from __future__ import annotations

from typing import Final

import gradio as gr

FONT_STACK: Final[tuple[str, ...]] = (
    "Inter",
    "ui-sans-serif",
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Helvetica Neue",
    "Arial",
    "sans-serif",
)
MONO_STACK: Final[tuple[str, ...]] = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")

TEXT: Final[str] = "#e8edf7"
TEXT_MUTED: Final[str] = "#a3b0c7"
GRID: Final[str] = "rgba(255,255,255,0.08)"
GOOD: Final[str] = "#4ade80"
BAD: Final[str] = "#fb7185"
NEUTRAL: Final[str] = "#cbd5e1"

# Series colours: fixed for the channels (so a channel keeps its colour in every chart), by rank
# for everything else.
SERIES: Final[tuple[str, ...]] = (
    "#38bdf8",
    "#a78bfa",
    "#34d399",
    "#fbbf24",
    "#f472b6",
    "#fb923c",
    "#22d3ee",
    "#a3e635",
)
CHANNEL_COLORS: Final[dict[str, str]] = {
    "Credit Card": "#38bdf8",
    "Debit Card": "#a78bfa",
    "UPI": "#34d399",
    "Net Banking": "#fbbf24",
}
TOTAL_COLOR: Final[str] = "#7dd3fc"


def series_color(item: str, rank: int, dimension: str | None) -> str:
    if dimension == "channel" and item in CHANNEL_COLORS:
        return CHANNEL_COLORS[item]
    return SERIES[rank % len(SERIES)]


def _both(**values: str) -> dict[str, str]:
    """The same value for the light and the dark variant of each theme variable."""
    out: dict[str, str] = {}
    for name, value in values.items():
        out[name] = value
        out[f"{name}_dark"] = value
    return out


def _colors() -> dict[str, str]:
    """The theme's colours (the same in light and dark mode: the page is always dark)."""
    glass = "rgba(255, 255, 255, 0.055)"
    glass_border = "rgba(255, 255, 255, 0.13)"
    field = "rgba(8, 13, 30, 0.55)"
    return _both(
        body_background_fill="#070b1a",
        body_text_color=TEXT,
        body_text_color_subdued=TEXT_MUTED,
        background_fill_primary="#0d1428",
        background_fill_secondary="rgba(15, 23, 42, 0.72)",
        border_color_primary=glass_border,
        border_color_accent="rgba(56, 189, 248, 0.5)",
        color_accent_soft="rgba(56, 189, 248, 0.16)",
        block_background_fill=glass,
        block_border_color=glass_border,
        block_label_background_fill="transparent",
        block_label_text_color=TEXT_MUTED,
        block_title_text_color=TEXT_MUTED,
        block_info_text_color=TEXT_MUTED,
        panel_background_fill="transparent",
        panel_border_color=glass_border,
        input_background_fill=field,
        input_background_fill_focus="rgba(8, 13, 30, 0.75)",
        input_background_fill_hover="rgba(8, 13, 30, 0.7)",
        input_border_color="rgba(255, 255, 255, 0.14)",
        input_border_color_focus="rgba(56, 189, 248, 0.65)",
        input_border_color_hover="rgba(255, 255, 255, 0.24)",
        input_placeholder_color="#64748b",
        button_secondary_background_fill="rgba(255, 255, 255, 0.08)",
        button_secondary_background_fill_hover="rgba(255, 255, 255, 0.14)",
        button_secondary_border_color=glass_border,
        button_secondary_text_color=TEXT,
        button_primary_background_fill="linear-gradient(135deg, #38bdf8, #818cf8)",
        button_primary_background_fill_hover="linear-gradient(135deg, #7dd3fc, #a5b4fc)",
        button_primary_text_color="#06101f",
        table_even_background_fill="rgba(255, 255, 255, 0.03)",
        table_odd_background_fill="rgba(255, 255, 255, 0.0)",
        table_border_color=glass_border,
        table_text_color=TEXT,
        link_text_color="#7dd3fc",
        link_text_color_hover="#bae6fd",
        link_text_color_visited="#7dd3fc",
        link_text_color_active="#bae6fd",
        loader_color="#38bdf8",
        checkbox_label_background_fill="rgba(255, 255, 255, 0.06)",
        checkbox_label_background_fill_selected="rgba(56, 189, 248, 0.22)",
        checkbox_label_text_color=TEXT,
        checkbox_label_text_color_selected=TEXT,
        error_background_fill="rgba(251, 113, 133, 0.12)",
        code_background_fill="rgba(255, 255, 255, 0.06)",
    )


def make_theme() -> gr.themes.Base:
    theme = gr.themes.Base(
        primary_hue=gr.themes.colors.sky,
        secondary_hue=gr.themes.colors.violet,
        neutral_hue=gr.themes.colors.slate,
        radius_size=gr.themes.sizes.radius_lg,
        font=FONT_STACK,
        font_mono=MONO_STACK,
    )
    return theme.set(
        **_colors(),
        block_radius="18px",
        block_border_width="1px",
        block_shadow="0 10px 36px rgba(0, 0, 0, 0.35)",
        block_shadow_dark="0 10px 36px rgba(0, 0, 0, 0.35)",
        block_padding="14px",
        layout_gap="14px",
        input_radius="12px",
        container_radius="18px",
        shadow_drop="0 4px 14px rgba(0, 0, 0, 0.3)",
    )


CSS: Final[str] = """
/* (page background and paddings are in HEAD: Gradio scopes this sheet under .gradio-container) */

/* glass surfaces. Only on elements without pop-ups inside: a backdrop-filter makes an element the
   containing block of its position:fixed descendants, which would misplace dropdown menus. Not on
   the charts: a blur under five large charts is repainted with every redraw (slow first paint
   without a GPU) and barely shows over the plain background. */
.kpi-card, .bap-header, .bap-pill {
  -webkit-backdrop-filter: blur(18px) saturate(150%);
  backdrop-filter: blur(18px) saturate(150%);
}
.bap-bare, .bap-bare > .block { background: transparent !important; border: none !important; box-shadow: none !important; padding: 0 !important; }
.bap-bare .html-container, .bap-bare.html-container { padding: 0 !important; }
.bap-filters { border-radius: 20px !important; }

/* ---- header ------------------------------------------------------------------------------ */
.bap-header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 12px;
  padding: 16px 20px; border-radius: 20px; background: rgba(255,255,255,0.05);
  border: 1px solid rgba(255,255,255,0.12); box-shadow: 0 10px 36px rgba(0,0,0,0.35); }
.bap-title { display: flex; align-items: center; gap: 14px; }
.bap-logo { width: 40px; height: 40px; border-radius: 12px; display: grid; place-items: center; font-size: 20px;
  background: linear-gradient(135deg, #38bdf8, #818cf8); color: #06101f; box-shadow: 0 6px 20px rgba(56,189,248,0.35); }
.bap-title h1 { margin: 0; font-size: 21px; font-weight: 650; letter-spacing: -0.01em; color: #f1f5fb; }
.bap-title p { margin: 2px 0 0; font-size: 13px; color: #a3b0c7; }
.bap-fresh { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.bap-pill { display: inline-flex; align-items: center; gap: 7px; padding: 6px 12px; border-radius: 999px; font-size: 12.5px;
  background: rgba(255,255,255,0.07); border: 1px solid rgba(255,255,255,0.13); color: #dbe4f3; white-space: nowrap; }
.bap-pill b { color: #f8fafc; font-weight: 600; }
.bap-dot { width: 8px; height: 8px; border-radius: 50%; background: #94a3b8; box-shadow: 0 0 0 3px rgba(148,163,184,0.18); }
.bap-dot.ok { background: #4ade80; box-shadow: 0 0 0 3px rgba(74,222,128,0.18); }
.bap-dot.bad { background: #fb7185; box-shadow: 0 0 0 3px rgba(251,113,133,0.2); }
.bap-dot.warn { background: #fbbf24; box-shadow: 0 0 0 3px rgba(251,191,36,0.2); }
a.bap-pill { text-decoration: none !important; color: #bae6fd !important; }
a.bap-pill:hover { background: rgba(56,189,248,0.16); border-color: rgba(56,189,248,0.45); }
.bap-pill.muted { color: #8b98ae; }
details.bap-accounting { position: relative; cursor: pointer; }
details.bap-accounting summary { list-style: none; }
details.bap-accounting summary::-webkit-details-marker { display: none; }
.bap-accounting-table { position: absolute; right: 0; top: calc(100% + 6px); z-index: 40; padding: 10px 12px;
  border-radius: 14px; background: #0b1324; border: 1px solid rgba(255,255,255,0.16); cursor: default;
  box-shadow: 0 12px 36px rgba(0,0,0,0.5); }
.bap-accounting-table p { margin: 0 0 6px; color: #a3b0c7; font-size: 12px; }
.bap-accounting-table table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
.bap-accounting-table th, .bap-accounting-table td { padding: 3px 8px; text-align: right; border: none; }
.bap-accounting-table thead th { color: #a3b0c7; font-weight: 500; }

/* ---- notices ------------------------------------------------------------------------------ */
.bap-notice { margin: 0; padding: 10px 14px; border-radius: 14px; font-size: 13px; line-height: 1.45;
  background: rgba(251,191,36,0.1); border: 1px solid rgba(251,191,36,0.35); color: #fde68a; }
.bap-notice.info { background: rgba(56,189,248,0.08); border-color: rgba(56,189,248,0.3); color: #bae6fd; }
.bap-selection { font-size: 13px; color: #a3b0c7; padding: 2px 4px; }
.bap-selection b { color: #e8edf7; font-weight: 600; }

/* ---- KPI cards ---------------------------------------------------------------------------- */
.kpi-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 14px; }
.kpi-card { position: relative; overflow: hidden; padding: 16px 18px 14px; border-radius: 18px;
  background: linear-gradient(160deg, rgba(255,255,255,0.09), rgba(255,255,255,0.03));
  border: 1px solid rgba(255,255,255,0.13); box-shadow: 0 10px 36px rgba(0,0,0,0.35); }
.kpi-card::before { content: ""; position: absolute; inset: 0 0 auto 0; height: 3px; background: var(--accent, #38bdf8); opacity: 0.85; }
.kpi-label { font-size: 12.5px; letter-spacing: 0.04em; text-transform: uppercase; color: #a3b0c7; font-weight: 600; }
.kpi-label small { text-transform: none; letter-spacing: 0; font-weight: 400; color: #7c8aa3; }
.kpi-value { margin-top: 6px; font-size: 30px; line-height: 1.1; font-weight: 680; color: #f8fafc; letter-spacing: -0.02em;
  font-variant-numeric: tabular-nums; }
.kpi-foot { display: flex; align-items: flex-end; justify-content: space-between; gap: 8px; margin-top: 8px; min-height: 30px; }
.kpi-delta { display: flex; flex-direction: column; align-items: flex-start; gap: 4px; font-size: 12px; color: #8b98ae;
  line-height: 1.3; }
.kpi-delta .chg { display: inline-block; padding: 2px 9px; border-radius: 999px; font-weight: 650; font-size: 12.5px;
  font-variant-numeric: tabular-nums; }
.kpi-delta .chg.good { color: #4ade80; background: rgba(74,222,128,0.12); }
.kpi-delta .chg.bad { color: #fb7185; background: rgba(251,113,133,0.13); }
.kpi-delta .chg.flat { color: #cbd5e1; background: rgba(203,213,225,0.1); }
.kpi-spark { flex: 0 0 auto; opacity: 0.95; }

/* ---- filters ------------------------------------------------------------------------------ */
.bap-filters .form { background: transparent !important; border: none !important; box-shadow: none !important; }
.bap-filters label span, .bap-filters .block-title { font-size: 12px !important; letter-spacing: 0.03em; }
.bap-toolbar { align-items: center !important; gap: 10px !important; }
.bap-toolbar button { min-height: 34px; border-radius: 999px !important; }

/* ---- charts ------------------------------------------------------------------------------- */
.bap-chart { padding: 6px 6px 2px !important; min-height: 340px; }
.bap-chart .js-plotly-plot, .bap-chart .plot-container { width: 100% !important; }
.bap-section-title { margin: 6px 2px 0; font-size: 12.5px; letter-spacing: 0.08em; text-transform: uppercase; color: #8b98ae; font-weight: 650; }

/* ---- tabs --------------------------------------------------------------------------------- */
.tab-wrapper, .tab-container { border-bottom-color: rgba(255,255,255,0.1) !important; }
button[role="tab"] { font-weight: 600 !important; color: #a3b0c7 !important; }
button[role="tab"][aria-selected="true"] { color: #f1f5fb !important; }

/* ---- tables ------------------------------------------------------------------------------- */
.bap-table table { font-variant-numeric: tabular-nums; }

/* ---- small screens ------------------------------------------------------------------------ */
@media (max-width: 720px) {
  .bap-toolbar { flex-wrap: wrap !important; }
  .bap-toolbar > #bap-selection { flex: 1 1 100% !important; min-width: 100% !important; }
  .kpi-label { font-size: 11px; letter-spacing: 0.02em; }
  .kpi-label small { display: block; }
  .bap-header { padding: 12px 14px; }
  .bap-title h1 { font-size: 18px; }
  .kpi-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px; }
  .kpi-card { padding: 12px 12px 10px; }
  .kpi-value { font-size: 22px; }
  .kpi-spark { display: none; }
  .bap-chart { min-height: 300px; }
  .bap-chart .modebar-container { display: none !important; }  /* touch screens: no hover, no toolbar */
}
"""

# Page-level rules go to <head>: Gradio scopes the `css` sheet under .gradio-container, so rules
# about the page and the container itself (and their media queries) must live outside it.
HEAD: Final[str] = """
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta name="theme-color" content="#070b1a">
<style>
  html, body, gradio-app, .gradio-container {
    background:
      radial-gradient(1200px 700px at 8% -8%, rgba(56, 189, 248, 0.22), transparent 60%),
      radial-gradient(900px 650px at 100% 0%, rgba(167, 139, 250, 0.22), transparent 55%),
      radial-gradient(1000px 800px at 50% 115%, rgba(52, 211, 153, 0.13), transparent 60%),
      #070b1a !important;
    background-attachment: fixed !important;
  }
  .gradio-container { width: 100% !important; max-width: 1440px !important; margin: 0 auto !important;
                      padding: 18px 22px 28px !important; box-sizing: border-box !important; }
  .gradio-container .main.fillable { padding-left: 0 !important; padding-right: 0 !important; }
  /* flex items default to min-width:auto: a wide table would widen the whole page */
  .gradio-container, .gradio-container > .main, .gradio-container > .main > .wrap, .gradio-container main.contain,
  .gradio-container .tabs, .gradio-container .tabitem { min-width: 0 !important; }
  footer { display: none !important; }
  @media (max-width: 720px) {
    .gradio-container { padding: 10px 8px 20px !important; }
  }
</style>
"""
