// Every command qdo has. Command modules are small (yargs wiring only); each run()
// imports its core module lazily.
import type { CommandDef } from './command.js';
import { initCommand } from './porcelain/init.js';
import { allocCommand } from './porcelain/alloc.js';
import { projectCommand } from './porcelain/project.js';
import { resourceCommand } from './porcelain/resource.js';
import { hashObjectCommand } from './plumbing/hash-object.js';
import { catObjectCommand } from './plumbing/cat-object.js';
import { revParseCommand } from './plumbing/rev-parse.js';
import { updateRefCommand } from './plumbing/update-ref.js';
import { showRefCommand } from './plumbing/show-ref.js';
import { fsckCommand } from './plumbing/fsck.js';
import { schedCommand } from './plumbing/sched.js';
import { submitCommand } from './porcelain/submit.js';
import { sweepCommand } from './porcelain/sweep.js';
import { statusCommand } from './porcelain/status.js';
import { showCommand } from './porcelain/show.js';
import { logCommand } from './porcelain/log.js';
import { diffCommand } from './porcelain/diff.js';
import { cancelCommand, holdCommand, releaseCommand } from './porcelain/control.js';
import { waitCommand } from './porcelain/wait.js';
import { watchCommand } from './porcelain/watch.js';
import { gcCommand } from './porcelain/gc.js';
import { logsCommand } from './porcelain/logs.js';
import { pathCommand } from './porcelain/path.js';
import { artifactsCommand } from './porcelain/artifacts.js';
import { pullCommand } from './porcelain/pull.js';
import { archiveCommand } from './porcelain/archive.js';
import { retryCommand } from './porcelain/retry.js';
import { completionCommand } from './porcelain/completion.js';
import { doctorCommand } from './porcelain/doctor.js';
import { reportCommand } from './porcelain/report.js';
import { serveCommand } from './porcelain/serve.js';
import { poolCommand } from './porcelain/pool.js';

export const COMMANDS: CommandDef[] = [
  initCommand,
  allocCommand,
  projectCommand,
  resourceCommand,
  submitCommand,
  sweepCommand,
  statusCommand,
  showCommand,
  logCommand,
  diffCommand,
  waitCommand,
  watchCommand,
  cancelCommand,
  holdCommand,
  releaseCommand,
  retryCommand,
  poolCommand,
  gcCommand,
  logsCommand,
  pathCommand,
  artifactsCommand,
  pullCommand,
  archiveCommand,
  hashObjectCommand,
  catObjectCommand,
  revParseCommand,
  updateRefCommand,
  showRefCommand,
  fsckCommand,
  schedCommand,
  completionCommand,
  doctorCommand,
  reportCommand,
  serveCommand,
];
