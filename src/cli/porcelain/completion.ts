// qdo completion bash|zsh|fish (man/qdo-completion.1): the shell's completion script.
import type { CommandDef } from '../command.js';
import { bool, str } from '../command.js';
import { jsonDocument } from '../../output/json.js';
import { completionScript, SHELLS, type Shell } from '../completion-scripts.js';

export const completionCommand: CommandDef = {
  command: 'completion <shell>',
  describe: 'Print the completion script of a shell (bash, zsh, fish): commands, options, projects, jobs, revisions',
  builder: (y) => y.positional('shell', { choices: SHELLS, describe: 'bash, zsh or fish' }),
  async run(args, { io }) {
    const shell = str(args, 'shell') as Shell;
    const script = completionScript(shell);
    io.stdout(bool(args, 'json') ? jsonDocument({ shell, script }) : script);
  },
};
