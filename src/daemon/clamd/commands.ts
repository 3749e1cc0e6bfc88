/**
 * clamd's command table and its parser: case-sensitive prefix match in table order (VERSIONCOMMANDS
 * before VERSION), no-argument commands must end there, argument commands take everything after
 * exactly one separator byte, old-style (unprefixed) requests only for the commands that allow it.
 */

export type CommandName =
  | 'SCAN' | 'QUIT' | 'RELOAD' | 'PING' | 'CONTSCAN' | 'VERSIONCOMMANDS' | 'VERSION' | 'END'
  | 'SHUTDOWN' | 'MULTISCAN' | 'FILDES' | 'STATS' | 'IDSESSION' | 'INSTREAM' | 'DETSTATSCLEAR'
  | 'DETSTATS' | 'ALLMATCHSCAN';

interface CommandSpec { name: CommandName; needArg: boolean; old: boolean }

/** In clamd's order: the VERSIONCOMMANDS reply lists them in this order too. */
export const COMMANDS: readonly CommandSpec[] = [
  { name: 'SCAN', needArg: true, old: true },
  { name: 'QUIT', needArg: false, old: true },
  { name: 'RELOAD', needArg: false, old: true },
  { name: 'PING', needArg: false, old: true },
  { name: 'CONTSCAN', needArg: true, old: true },
  { name: 'VERSIONCOMMANDS', needArg: false, old: false },
  { name: 'VERSION', needArg: false, old: true },
  { name: 'END', needArg: false, old: false },
  { name: 'SHUTDOWN', needArg: false, old: true },
  { name: 'MULTISCAN', needArg: true, old: true },
  { name: 'FILDES', needArg: false, old: true },
  { name: 'STATS', needArg: false, old: false },
  { name: 'IDSESSION', needArg: false, old: false },
  { name: 'INSTREAM', needArg: false, old: false },
  { name: 'DETSTATSCLEAR', needArg: false, old: true },
  { name: 'DETSTATS', needArg: false, old: true },
  { name: 'ALLMATCHSCAN', needArg: true, old: false },
];

/** Commands accepted inside an IDSESSION; any other ends the session with an error. */
export const SESSION_COMMANDS: ReadonlySet<CommandName> = new Set<CommandName>([
  'SCAN', 'INSTREAM', 'FILDES', 'VERSION', 'VERSIONCOMMANDS', 'PING', 'STATS', 'END',
]);

export type ParsedCommand = { name: CommandName; arg?: string } | { name: 'UNKNOWN' };

/** Parses one command's text (without prefix or terminator) as clamd's `parse_command` does. */
export function parseCommand(text: string, oldStyle: boolean): ParsedCommand {
  for (const c of COMMANDS) {
    if (!text.startsWith(c.name)) continue;
    const rest = text.slice(c.name.length);
    if (c.needArg ? rest.length === 0 : rest.length !== 0) return { name: 'UNKNOWN' };
    if (oldStyle && !c.old) return { name: 'UNKNOWN' };
    return c.needArg ? { name: c.name, arg: rest.slice(1) } : { name: c.name };
  }
  return { name: 'UNKNOWN' };
}

/** The text after the version in the VERSIONCOMMANDS reply. */
export function commandsList(): string {
  return ' COMMANDS: ' + COMMANDS.map((c) => c.name).join(' ');
}
