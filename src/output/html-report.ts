// The status page (man/qdo-report.1, man/qdo-serve.1): one self-contained HTML document —
// its style and script inline (allowed by a Content-Security-Policy that names their
// hashes), nothing fetched from anywhere — rendered from ReportData. Pure.
//  - 'file' (qdo report --html FILE): links to logs and run folders are paths relative to
//    the file, so the page opens straight from a shared file system;
//  - 'live' (qdo serve): the same view, refreshed by the page from /api/view; logs open
//    in a panel through /api/logs; with control on, each live job has cancel, hold,
//    release and retry buttons that POST to /api/<action> with the page's token.
import type { JobEntry, ReportData, VersionEntry } from '../model/report.js';
import { crypto } from '../util/lazy-crypto.js';

export interface PageOptions {
  mode: 'file' | 'live';
  /** file mode: the href of a path (relative to the HTML file), or null for no link. */
  href?: (path: string) => string | null;
  /** live mode: show the control buttons (the server was started with --control). */
  control?: boolean;
  /** live mode: seconds between refreshes. */
  intervalS?: number;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

const LIVE = new Set(['submitting', 'pending', 'held', 'running', 'suspended', 'unknown']);

function ago(iso: string | null, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const t = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
  return `${t} ago`;
}

function time(iso: string | null, now: number): string {
  return iso ? `<time datetime="${esc(iso)}" title="${esc(iso)}">${esc(ago(iso, now))}</time>` : '';
}

function badge(state: string): string {
  return `<span class="st st-${esc(state)}">${esc(state)}</span>`;
}

function logLinks(v: VersionEntry, job: string, o: PageOptions): string {
  const parts: string[] = [];
  for (const [label, path] of [['stdout', v.stdout], ['stderr', v.stderr]] as const) {
    if (!path) continue;
    if (o.mode === 'live') parts.push(`<a href="#" class="log" data-rev="${esc(`${job}@${v.version}`)}" data-stream="${label}">${label}</a>`);
    else {
      const h = o.href?.(path);
      if (h) parts.push(`<a href="${esc(h)}">${label}</a>`);
    }
  }
  if (o.mode === 'file') {
    const h = o.href?.(v.runDir);
    if (h) parts.push(`<a href="${esc(h)}" title="${esc(v.runDir)}">folder</a>`);
  } else parts.push(`<span class="path" title="run folder">${esc(v.runDir)}</span>`);
  return parts.join(' ');
}

function actions(j: JobEntry, o: PageOptions): string {
  if (o.mode !== 'live' || !o.control) return '';
  const rev = esc(`${j.job}@${j.version}`);
  const b = (action: string, on: boolean) => (on ? `<button type="button" data-action="${action}" data-rev="${rev}">${action}</button>` : '');
  const live = LIVE.has(j.state);
  return `<td class="act">${b('cancel', live)}${b('hold', j.state === 'pending')}${b('release', j.state === 'held')}${b('retry', !live)}</td>`;
}

function historyRows(j: JobEntry, now: number, o: PageOptions): string {
  const rows = j.history
    .map((v) => `<tr><td>@${v.version}${v.latest ? ' (latest)' : ''}</td><td>${badge(v.state)}</td><td>${v.exitCode ?? ''}</td><td>${esc(v.scheduler ?? '')} ${esc(v.schedId ?? '')}</td><td>${time(v.submitted, now)}</td><td>${esc(v.reason ?? '')}</td><td>${logLinks(v, j.job, o)}</td><td class="id">${esc(v.id.slice(0, 12))}</td></tr>`)
    .join('');
  const more = j.more ? `<p class="more">${j.more} older version(s): <code>qdo log ${esc(j.job)}</code></p>` : '';
  return `<details><summary>${j.history.length} version(s)</summary><table class="hist"><thead><tr><th>version</th><th>state</th><th>exit</th><th>scheduler id</th><th>submitted</th><th>reason</th><th>logs</th><th>id</th></tr></thead><tbody>${rows}</tbody></table>${more}</details>`;
}

/** The view: summary, allocations, sweeps, jobs. In live mode it is what /api/view returns. */
export function renderView(d: ReportData, o: PageOptions): string {
  const now = Date.parse(d.generated);
  const counts = Object.entries(d.states)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([s, n]) => `${badge(s)} ${n}`)
    .join(' ');
  let out = `<p class="summary">${d.jobs.length} job(s)${counts ? `: ${counts}` : ''} — generated ${time(d.generated, now)} on ${esc(d.host)} (<span class="abs">${esc(d.generated)}</span>)</p>`;
  if (d.problems.length) out += `<ul class="problems">${d.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>`;
  out += `<h2>Allocations</h2><table class="allocs"><thead><tr><th>allocation</th><th>projects</th><th>status</th></tr></thead><tbody>${d.allocations
    .map((a) => `<tr><td>${esc(a.path)}${a.home ? ' (home)' : ''}</td><td>${a.reachable ? a.projects : ''}</td><td>${a.reachable ? 'ok' : `<span class="bad">unreachable: ${esc(a.problem ?? '')}</span>`}</td></tr>`)
    .join('')}</tbody></table>`;
  if (d.sweeps.length) {
    out += `<h2>Sweeps</h2><table class="sweeps"><thead><tr><th>sweep</th><th>progress</th><th>states</th></tr></thead><tbody>${d.sweeps
      .map((s) => {
        const pct = s.total ? Math.round((100 * s.ended) / s.total) : 0;
        const st = Object.entries(s.states)
          .map(([k, n]) => `${badge(k)} ${n}`)
          .join(' ');
        return `<tr><td><code>sweep:${esc(s.id.slice(0, 12))}</code></td><td><progress max="${s.total}" value="${s.ended}">${pct}%</progress> ${s.ended}/${s.total}</td><td>${st}</td></tr>`;
      })
      .join('')}</tbody></table>`;
  }
  out += `<h2>Jobs</h2>`;
  if (d.jobs.length === 0) return out + '<p>No jobs yet (submit one with <code>qdo submit PROJECT/JOB</code>).</p>';
  out += `<table class="jobs"><thead><tr><th>job</th><th>ver</th><th>state</th><th>exit</th><th>scheduler</th><th>id</th><th>submitted</th><th>logs</th><th>history</th>${o.mode === 'live' && o.control ? '<th>actions</th>' : ''}</tr></thead><tbody>`;
  for (const j of d.jobs) {
    out += `<tr class="job" data-job="${esc(j.job)}" data-state="${esc(j.state)}"><td class="name">${esc(j.job)}${j.sweep ? ` <span class="sweep" title="sweep ${esc(j.sweep)}">sweep</span>` : ''}</td><td>${j.version}</td><td>${badge(j.state)}${j.reason ? `<div class="reason">${esc(j.reason)}</div>` : ''}</td><td>${j.exitCode ?? ''}</td><td>${esc(j.scheduler ?? '')}</td><td>${esc(j.schedId ?? '')}</td><td>${time(j.submitted, now)}</td><td>${logLinks(j, j.job, o)}</td><td>${historyRows(j, now, o)}</td>${actions(j, o)}</tr>`;
  }
  return out + '</tbody></table>';
}

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --mute: #667; --line: #d8dde3; --head: #f3f5f7; }
@media (prefers-color-scheme: dark) { :root { --bg: #15181c; --fg: #e4e7eb; --mute: #99a; --line: #333a42; --head: #1e2328; } }
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; background: var(--bg); color: var(--fg); }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--head); font-weight: 600; position: sticky; top: 0; }
td.name, code, .id, .path, .abs { font-family: ui-monospace, monospace; font-size: 12.5px; } .id, .path, .abs, .more, .reason { color: var(--mute); }
.st { display: inline-block; padding: 0 .45em; border-radius: .7em; font-size: 12px; border: 1px solid currentColor; }
.st-completed { color: #1a7f37; } .st-failed, .st-timeout, .st-out-of-memory, .st-node-fail, .st-not-submitted { color: #cf222e; }
.st-cancelled, .st-preempted { color: #8250df; } .st-running { color: #0969da; } .st-pending, .st-held, .st-submitting, .st-suspended { color: #9a6700; }
.bad, .problems { color: #cf222e; } .sweep { font-size: 11px; color: var(--mute); } details summary { cursor: pointer; color: var(--mute); }
table.hist { margin: .3em 0; } .filters { margin: .6em 0; } .filters input { width: 20em; }
#panel { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12px; max-height: 40vh; overflow: auto; border: 1px solid var(--line); padding: .5em; display: none; }
#msg { color: var(--mute); min-height: 1.2em; } button { margin-right: .3em; }
`;

const SCRIPT = `
(function () {
  'use strict';
  var live = document.body.dataset.mode === 'live';
  var view = document.getElementById('view');
  var filter = document.getElementById('filter');
  var only = document.getElementById('state');
  function apply() {
    var text = filter.value.toLowerCase(), st = only.value;
    var rows = view.querySelectorAll('tr.job');
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var show = (!text || r.dataset.job.toLowerCase().indexOf(text) >= 0) && (!st || r.dataset.state === st);
      r.hidden = !show;
    }
  }
  filter.addEventListener('input', apply);
  only.addEventListener('change', apply);
  if (!live) return;
  var msg = document.getElementById('msg');
  var updated = document.getElementById('updated');
  var panel = document.getElementById('panel');
  var m = /token=([0-9a-f]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem('qdo-token', m[1]); history.replaceState(null, '', location.pathname); }
  var token = sessionStorage.getItem('qdo-token') || '';
  function say(t) { msg.textContent = t; }
  function call(method, url, body) {
    return fetch(url, { method: method, headers: { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, status: r.status, text: t }; }); });
  }
  function refresh() {
    return call('GET', '/api/view').then(function (r) {
      if (!r.ok) { updated.textContent = r.status === 401 ? 'this page needs the address qdo serve printed (with its #token)' : 'refresh failed: ' + r.status; return; }
      var open = {};
      var d = view.querySelectorAll('tr.job details[open]');
      for (var i = 0; i < d.length; i++) open[d[i].closest('tr').dataset.job] = true;
      view.innerHTML = r.text;
      var rows = view.querySelectorAll('tr.job');
      for (var k = 0; k < rows.length; k++) if (open[rows[k].dataset.job]) rows[k].querySelector('details').open = true;
      apply();
      updated.textContent = 'updated ' + new Date().toLocaleTimeString();
    }).catch(function (e) { updated.textContent = 'refresh failed: ' + e.message; });
  }
  view.addEventListener('click', function (ev) {
    var t = ev.target.closest('[data-action], a.log');
    if (!t) return;
    ev.preventDefault();
    if (t.dataset.action) {
      say(t.dataset.action + ' ' + t.dataset.rev + ' ...');
      call('POST', '/api/' + t.dataset.action, { revs: [t.dataset.rev] }).then(function (r) {
        var out; try { out = JSON.parse(r.text); } catch (e) { out = null; }
        if (out && out.jobs) say(out.jobs.map(function (j) { return j.outcome === 'done' ? t.dataset.action + ' ' + j.job + '@' + j.job_version + ': done' : j.message; }).join('; '));
        else if (!r.ok) say(t.dataset.action + ' failed: ' + (out && out.error ? out.error.message : r.status));
        else say(t.dataset.action + ' ' + t.dataset.rev + ': done');
        return refresh();
      });
    } else {
      call('GET', '/api/logs?arg=' + encodeURIComponent(t.dataset.rev) + (t.dataset.stream === 'stderr' ? '&err=1' : '')).then(function (r) {
        var out; try { out = JSON.parse(r.text); } catch (e) { out = null; }
        panel.style.display = 'block';
        panel.textContent = out && out.tasks ? out.tasks.map(function (x) { return (x.task === null ? '' : '==> ' + x.task + ' <==\\n') + (x.encoding === 'utf8' ? x.content : '(binary)'); }).join('\\n') || '(empty)' : (out && out.error ? out.error.message : r.status);
      });
    }
  });
  setInterval(refresh, Number(document.body.dataset.interval || 5) * 1000);
  refresh();
})();
`;

function sha256(s: string): string {
  return crypto().createHash('sha256').update(s, 'utf8').digest('base64');
}

/** The whole document. */
export function renderPage(d: ReportData, o: PageOptions): string {
  const states = [...new Set(d.jobs.map((j) => j.state))].sort();
  const csp = `default-src 'none'; style-src 'sha256-${sha256(STYLE)}'; script-src 'sha256-${sha256(SCRIPT)}'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="qdo">
<link rel="icon" href="data:,">
<title>qdo status — ${esc(d.host)}</title>
<style>${STYLE}</style>
</head>
<body data-mode="${o.mode}" data-interval="${o.intervalS ?? 5}">
<h1>qdo status</h1>
<div class="filters"><input id="filter" type="search" placeholder="filter jobs by name" aria-label="filter jobs by name"> <select id="state" aria-label="state"><option value="">every state</option>${states.map((s) => `<option>${esc(s)}</option>`).join('')}</select></div>
${o.mode === 'live' ? '<p><span id="msg" role="status"></span> <span id="updated" class="abs"></span></p><pre id="panel" aria-label="log"></pre>' : ''}
<main id="view">${renderView(d, o)}</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
