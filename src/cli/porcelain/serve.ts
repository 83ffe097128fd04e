// qdo serve [--port N] [--control] [--token-file FILE] (man/qdo-serve.1): the status page
// of qdo report, live, on 127.0.0.1, and the --json outputs of the read-only commands as an
// HTTP API. Every request but the page's own shell carries the token the server printed
// (Authorization: Bearer); cancel, hold, release and retry are served only with --control.
// Requests naming another host (DNS rebinding) are refused; no CORS header is ever sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import type { Context } from '../../context.js';
import { UsageError } from '../../errors.js';
import type { Io } from '../io.js';
import { errorJson } from '../../output/json.js';

/** Commands whose --json output is served, and the first argument some of them must have. */
export const READ_COMMANDS: Record<string, string[] | null> = {
  status: null,
  ls: null,
  show: null,
  log: null,
  diff: null,
  logs: null,
  path: null,
  artifacts: null,
  doctor: null,
  'show-ref': null,
  'rev-parse': null,
  'cat-object': null,
  fsck: null,
  alloc: ['list'],
  project: ['list'],
  resource: ['list', 'show'],
};
/** Options that would write, block or read stdin: never taken from a request. */
const DENIED_FLAGS = new Set(['repair', 'follow', 'f', 'stdin', 'w', 'json', 'help', 'h', 'version']);
export const CONTROL = ['cancel', 'hold', 'release', 'retry'];

export interface ServeState {
  ctx: Context;
  token: string;
  control: boolean;
  port: number;
  intervalS: number;
}

/** Runs qdo in this process with --json; its stdout, or its error as JSON, and an HTTP status. */
async function runJson(argv: string[], ctx: Context): Promise<{ status: number; body: string }> {
  let out = '';
  let err = '';
  const io: Io = { stdout: (c) => void (out += typeof c === 'string' ? c : Buffer.from(c).toString('utf8')), stderr: (c) => void (err += c), readStdin: async () => Buffer.alloc(0), isTTY: false, color: false };
  // Imported here: main imports the command table, which imports this module.
  const { main } = await import('../main.js');
  const code = await main([...argv, '--json'], io, ctx);
  if (code === 0 || code === 1) return { status: 200, body: out };
  const status = { 2: 400, 3: 404, 4: 409, 5: 503, 6: 502 }[code as 2] ?? 500;
  // A document with a failure in it (cancel: one job could not be): the document.
  if (out.trimStart().startsWith('{')) return { status, body: out };
  const lines = err.trimEnd().split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { status, body: last.startsWith('{') ? last + '\n' : errorJson('internal', err.trim() || `exit ${code}`, undefined) };
}

/** `?arg=A&arg=B&all-versions=1&max-count=3` → `A B --all-versions --max-count 3`. */
export function queryArgv(command: string, q: URLSearchParams): string[] | string {
  const argv = [command, ...q.getAll('arg')];
  const first = READ_COMMANDS[command];
  if (first && !first.includes(argv[1] ?? '')) return `${command} serves only: ${first.map((a) => `${command} ${a}`).join(', ')}`;
  for (const [k, v] of q) {
    if (k === 'arg') continue;
    if (DENIED_FLAGS.has(k) || !/^[a-z][a-z0-9-]*$/.test(k)) return `option ${k} is not served`;
    argv.push(k.length === 1 ? `-${k}` : `--${k}`);
    if (v !== '' && v !== '1' && v !== 'true') argv.push(v);
  }
  return argv;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  });
  res.end(body);
}

function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

async function body(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) {
    s += String(c);
    if (s.length > 1 << 20) throw new Error('request body too large');
  }
  return s;
}

export function handler(st: ServeState): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const jsonType = 'application/json; charset=utf-8';
  const fail = (res: ServerResponse, status: number, code: string, message: string) => send(res, status, jsonType, errorJson(code, message, undefined));
  return async (req, res) => {
    try {
      const host = req.headers.host ?? '';
      if (![`127.0.0.1:${st.port}`, `localhost:${st.port}`, `[::1]:${st.port}`].includes(host)) return fail(res, 421, 'wrong-host', `this server answers to 127.0.0.1:${st.port} only`);
      const url = new URL(req.url ?? '/', `http://${host}`);
      if (url.pathname === '/' && req.method === 'GET') {
        // The shell of the page: no data in it (the data needs the token).
        const { renderPage } = await import('../../output/html-report.js');
        const empty = { generated: st.ctx.now().toISOString(), host: st.ctx.host, allocations: [], jobs: [], sweeps: [], states: {}, sources: [], problems: [] };
        return send(res, 200, 'text/html; charset=utf-8', renderPage(empty, { mode: 'live', control: st.control, intervalS: st.intervalS }));
      }
      if (!url.pathname.startsWith('/api/')) return fail(res, 404, 'not-found', `no page ${url.pathname}`);
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), st.token)) return fail(res, 401, 'token', 'the token qdo serve printed is needed (Authorization: Bearer TOKEN)');
      const what = url.pathname.slice(5);
      if (req.method === 'GET' && (what === 'view' || what === 'report')) {
        const { reportData } = await import('../../core/report.js');
        const d = await reportData(st.ctx);
        if (what === 'report') return send(res, 200, jsonType, JSON.stringify({ version: 1, report: d }, null, 2) + '\n');
        const { renderView } = await import('../../output/html-report.js');
        return send(res, 200, 'text/html; charset=utf-8', renderView(d, { mode: 'live', control: st.control }));
      }
      if (req.method === 'GET' && what in READ_COMMANDS) {
        const argv = queryArgv(what, url.searchParams);
        if (typeof argv === 'string') return fail(res, 400, 'usage', argv);
        const r = await runJson(argv, st.ctx);
        return send(res, r.status, jsonType, r.body);
      }
      if (CONTROL.includes(what)) {
        if (req.method !== 'POST') return fail(res, 405, 'usage', `${what} is POST /api/${what} with {"revs": [...]}`);
        if (!st.control) return fail(res, 403, 'read-only', 'this server is read-only: start it with qdo serve --control');
        let revs: unknown;
        let failed = false;
        try {
          const b = JSON.parse(await body(req)) as { revs?: unknown; failed?: unknown };
          revs = b.revs;
          failed = b.failed === true;
        } catch {
          return fail(res, 400, 'usage', 'expected a JSON body {"revs": ["PROJECT/JOB", ...]}');
        }
        if (!Array.isArray(revs) || revs.some((r) => typeof r !== 'string' || r.startsWith('-'))) return fail(res, 400, 'usage', 'expected {"revs": ["PROJECT/JOB", ...]}');
        const r = await runJson([what, ...(revs as string[]), ...(failed && what === 'retry' ? ['--failed'] : [])], st.ctx);
        return send(res, r.status, jsonType, r.body);
      }
      return fail(res, 404, 'not-found', `no API ${url.pathname} (read: ${Object.keys(READ_COMMANDS).join(', ')}, view, report; control: ${CONTROL.join(', ')})`);
    } catch (e) {
      if (!res.headersSent) fail(res, 500, 'internal', (e as Error).message);
    }
  };
}

export const serveCommand: CommandDef = {
  command: 'serve',
  describe: 'Serve the status page live on 127.0.0.1, and the --json outputs as an HTTP API (control with --control and the token)',
  builder: (y) =>
    y
      .option('port', { type: 'number', describe: 'port on 127.0.0.1 (default: any free port)' })
      .option('control', { type: 'boolean', describe: 'also serve cancel, hold, release and retry (POST, with the token)' })
      .option('token-file', { type: 'string', describe: 'read the token from this file instead of making one' })
      .option('interval', { type: 'number', describe: 'seconds between the page\'s refreshes (default 5)' }),
  async run(args, { ctx, io }) {
    const port = args.port === undefined ? 0 : Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected 0..65535, found ${String(args.port)}`);
    const intervalS = args.interval === undefined ? 5 : Number(args.interval);
    if (!Number.isFinite(intervalS) || intervalS < 1) throw new UsageError(`--interval: expected a number of seconds >= 1, found ${String(args.interval)}`);
    const tf = str(args, 'token-file');
    let token: string;
    if (tf !== undefined) {
      token = (await readFile(resolve(ctx.cwd, tf), 'utf8').catch((e: Error) => {
        throw new UsageError(`--token-file ${tf}: ${e.message}`);
      })).trim();
      if (!/^[0-9a-f]{32,}$/.test(token)) throw new UsageError(`--token-file ${tf}: expected at least 32 hex digits`);
    } else {
      const { crypto } = await import('../../util/lazy-crypto.js');
      token = crypto().randomBytes(24).toString('hex');
    }
    // Not import(): inside the bundle's vm.Script it has no loader on Node 20 (scripts/build.mjs).
    const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
    const st: ServeState = { ctx, token, control: bool(args, 'control'), port, intervalS };
    const server = http.createServer((req, res) => void handler(st)(req, res));
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, '127.0.0.1', () => ok());
    });
    st.port = (server.address() as { port: number }).port;
    const url = `http://127.0.0.1:${st.port}/#token=${token}`;
    if (bool(args, 'json')) io.stdout(JSON.stringify({ version: 1, url, port: st.port, control: st.control, token }) + '\n');
    else {
      io.stdout(`qdo serve: ${url}\n`);
      io.stdout(`${st.control ? 'cancel, hold, release and retry are on (with the token)' : 'read-only (qdo serve --control to allow cancel, hold, release and retry)'}; Ctrl-C stops\n`);
      io.stdout(`from another machine: ssh -L ${st.port}:127.0.0.1:${st.port} ${ctx.host}, then open the address there\n`);
    }
    await new Promise<void>((done) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        server.close(() => done());
        server.closeAllConnections?.();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
