/**
 * The look of every page zonegate draws itself: the gateway's error and logged-out pages, the zones'
 * sign-in, set-password, error and signed-out pages. One self-contained document: no scripts and
 * inline styles only (the zones' CSP allows nothing else), readable on a phone. The accessibility
 * basics are built in rather than left to each page (WCAG 2.2): `lang` (SC 3.1.1), text contrast of
 * at least 4.5:1 whatever the zone's brand colour (SC 1.4.3, checked by contrastRatio below), a
 * visible focus ring (SC 2.4.7), 44 px touch targets (SC 2.5.8 asks 24; 44 is Apple's and SC 2.5.5's),
 * and 16 px inputs, below which iOS Safari zooms into a field when it gets focus.
 */

/** SAP's Fiori blue: 5.0:1 against white. */
export const DEFAULT_ACCENT = '#0a6ed1';
/** Links and outlines when the accent is too light to read on white. */
const DARK_LINK = '#0854a0';
const HEX_COLOR = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

export interface PageInput {
  /** The document's `<title>`. */
  title: string;
  heading: string;
  /** HTML, already escaped by the caller. */
  body: string;
  /** HTML above the heading (the zone's logo and name); escaped by the caller. */
  banner?: string;
  /** Brand colour, `#rgb` or `#rrggbb`; anything else falls back to DEFAULT_ACCENT. */
  accent?: string;
}

export function renderPage(input: PageInput): string {
  const accent = input.accent !== undefined && HEX_COLOR.test(input.accent) ? input.accent : DEFAULT_ACCENT;
  const onAccent = textColorOn(accent);
  const link = contrastRatio(accent, '#ffffff') >= 4.5 ? accent : DARK_LINK;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f5f6f7;color:#222;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:28rem;margin:8vh auto;background:#fff;padding:2rem 1.5rem;border-radius:8px;border-top:6px solid ${accent};box-shadow:0 1px 3px rgba(0,0,0,.15)}
@media (max-width:30rem){main{margin:0;min-height:100vh;border-radius:0;box-shadow:none;padding:1.5rem 1.25rem}}
.brand{display:flex;align-items:center;gap:.75rem;color:#555;margin:0 0 .5rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{display:block;width:100%;min-height:44px;padding:.5rem .75rem;font:inherit;font-size:1rem;color:#222;background:#fff;border:1px solid #767676;border-radius:4px}
button{display:block;width:100%;min-height:44px;margin-top:1.5rem;padding:.5rem 1rem;font:inherit;font-weight:600;color:${onAccent};background:${accent};border:0;border-radius:4px;cursor:pointer}
a{color:${link}}
:focus-visible,input:focus{outline:3px solid ${link};outline-offset:2px}
button:focus-visible{outline-color:#222}
.msg{background:#fdecea;border-left:4px solid #b00020;padding:.75rem;border-radius:4px}
.way-on{display:flex;flex-wrap:wrap;gap:.5rem;margin:1.5rem 0 0;padding:0;list-style:none}
.way-on a{display:inline-flex;align-items:center;min-height:44px;padding:.5rem 1rem;border:1px solid ${link};border-radius:4px;font-weight:600;text-decoration:none}
.way-on a.primary{color:${onAccent};background:${accent};border-color:${accent}}
.support{margin:2rem 0 0;padding-top:1rem;border-top:1px solid #ddd;color:#555;font-size:.875rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;background:#f0f0f0;padding:.1rem .3rem;border-radius:3px;overflow-wrap:anywhere}
</style></head>
<body><main>${input.banner ?? ''}<h1>${escapeHtml(input.heading)}</h1>
${input.body}</main></body></html>`;
}

/** One link of a page's way on; the first one marked `primary` is drawn as the main action. */
export interface PageLink {
  href: string;
  label: string;
  primary?: boolean;
}

/** The links a page offers to go on (never a dead end); nothing when there are none. */
export function wayOnList(links: readonly PageLink[]): string {
  if (links.length === 0) return '';
  const items = links.map((l) => `<li><a href="${escapeHtml(l.href)}"${l.primary ? ' class="primary"' : ''}>${escapeHtml(l.label)}</a></li>`);
  return `<ul class="way-on">${items.join('')}</ul>`;
}

/** The small print support asks for: the error's code and the request's id. */
export function supportLine(code: string, requestId: string | undefined): string {
  const request = requestId === undefined ? '' : `, request id <code>${escapeHtml(requestId)}</code>`;
  return `<p class="support">If you contact support, give them: error code <code>${escapeHtml(code)}</code>${request}.</p>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** WCAG 2.x contrast ratio of two `#rgb`/`#rrggbb` colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** White or black, whichever reads better on `background`. */
export function textColorOn(background: string): '#ffffff' | '#000000' {
  return contrastRatio(background, '#ffffff') >= contrastRatio(background, '#000000') ? '#ffffff' : '#000000';
}

function luminance(color: string): number {
  let hex = color.slice(1);
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
