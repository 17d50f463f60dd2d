/** Escape text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header h1{font-size:18px;margin:0}
main{padding:20px;max-width:1200px}
table{border-collapse:collapse;background:#fff;width:100%;margin:8px 0 20px}
th,td{border-bottom:1px solid #e3e6eb;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.healthy,.listed{background:#d8f5df;color:#136c2e}.degraded,.unlisted{background:#fff1c9;color:#7a5a00}
.failed,.removed,.reboot-required,.reset-required{background:#fddada;color:#8a1212}.unknown{background:#e6e8ec;color:#555}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:10px 16px}
.card b{font-size:20px;display:block}
.cal{display:grid;grid-template-columns:repeat(7,1fr);gap:2px;max-width:560px}
.cal div{background:#fff;border:1px solid #e3e6eb;min-height:38px;font-size:11px;padding:2px}
.cal .mw{background:#ffd9a8}.cal .soon{background:#fff1c9}.cal .today{outline:2px solid #3a6df0}.cal .hd{background:none;border:none;font-weight:600}
svg{background:#fff;border:1px solid #e3e6eb}
.muted{color:#6b7280}
`;

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Podkit control plane</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body><header><h1>Podkit</h1><a href="/">Hosts</a><a href="/maintenance">Maintenance</a><a href="/events">Events</a></header>
<main>${body}</main></body></html>`;
}

export function badge(value: string | null): string {
  const v = value ?? "unknown";
  return `<span class="badge ${esc(v)}">${esc(v)}</span>`;
}

export function percent(ratio: number, digits = 2): string {
  return `${(ratio * 100).toFixed(digits)}%`;
}
