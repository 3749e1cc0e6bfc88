/**
 * The commander set-up the subcommand groups share (`vigil db`, `vigil audit`, `vigil update`, …).
 *
 * In: a group's name, its output streams, its arguments. Out: a program whose help and errors go
 * to those streams and which never exits the process; after parsing, the exit code of commander's
 * own outcomes (0 for help, 2 for a usage error), or undefined when an action ran.
 * Why: every group needs the same three settings and the same mapping of commander's errors.
 */
import { Command, CommanderError } from 'commander';

export interface Streams {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export function commandGroup(name: string, deps: Streams): Command {
  return new Command(name)
    .exitOverride()
    .helpCommand(false)
    .configureOutput({ writeOut: (s) => { deps.stdout.write(s); }, writeErr: (s) => { deps.stderr.write(s); } });
}

/** Parses `args` (the words after the group's name); the exit code when commander ended it. */
export async function parseCommand(program: Command, args: string[]): Promise<number | undefined> {
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
  return undefined;
}
