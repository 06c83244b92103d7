import { QfpayError } from '../qfpay/errors.js';
import { HttpStartupError } from '../transports/errors.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, processIo } from './args.js';
import type { CliIo } from './args.js';
import { readPackageVersion } from './version.js';

/**
 * The `qfpay-mcp` command: a table of subcommands, each loaded only when run so `--help` and
 * `--version` stay instant and independent of the server stack. New subcommands (doctor, …) are
 * one entry in SUBCOMMANDS.
 */

export interface Subcommand {
  readonly name: string;
  readonly summary: string;
  /** Runs the subcommand with the arguments after its name; resolves to the exit code. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

export const SUBCOMMANDS: readonly Subcommand[] = [
  {
    name: 'serve',
    summary: 'Serve MCP over stdio (default) or Streamable HTTP (--http)',
    run: async (argv, io) => (await import('./serve.js')).runServe(argv, io),
  },
  {
    name: 'simulator',
    summary: 'Run the local QFPay-compatible simulator on loopback',
    run: async (argv, io) => {
      const { runSimulatorCli } = await import('../simulator/index.js');
      await runSimulatorCli([...argv], { out: io.out });
      return EXIT_OK;
    },
  },
  {
    name: 'doctor',
    summary: 'Check configuration, credentials and the connection to QFPay',
    run: async (argv, io) => (await import('../doctor.js')).runDoctorCli(argv, io),
  },
  {
    name: 'reconcile',
    summary: "Compare one day of the audit ledger with QFPay's transactions",
    run: async (argv, io) => (await import('./reconcile.js')).runReconcileCli(argv, io),
  },
  {
    name: 'audit',
    summary: 'Inspect and verify the audit ledger of money-moving calls',
    run: async (argv, io) => {
      const { runAuditCli } = await import('./audit.js');
      return runAuditCli(argv, { stdout: io.out, stderr: io.err, env: io.env });
    },
  },
  {
    name: 'client-config',
    summary: 'Print ready MCP client entries (Claude, Cursor, VS Code, OpenClaw, HTTP) for this install',
    run: async (argv, io) => (await import('./client-config.js')).runClientConfigCli(argv, io),
  },
];

const DEFAULT_SUBCOMMAND = 'serve';

export function topLevelHelp(): string {
  const width = Math.max(...SUBCOMMANDS.map((command) => command.name.length)) + 2;
  const commands = SUBCOMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join(
    '\n',
  );
  return `qfpay-mcp ${readPackageVersion()}: MCP server for the QFPay OpenAPI, with a local simulator

Usage: qfpay-mcp [command] [options]

Commands:
${commands}

With no command, "serve" runs: qfpay-mcp --read-only is qfpay-mcp serve --read-only.

Options:
  -h, --help       Show help (also: qfpay-mcp <command> --help)
  -v, --version    Print the version

Examples:
  qfpay-mcp                                  stdio, embedded simulator when no credentials are set
  qfpay-mcp serve --http                     Streamable HTTP on http://127.0.0.1:3939/mcp
  qfpay-mcp serve --read-only --toolsets reporting,reference
  qfpay-mcp client-config --client openclaw   the entry to paste into a client, with this path
  qfpay-mcp simulator --help

Credentials and tokens are read from the environment only (QFPAY_ENV, QFPAY_APPCODE,
QFPAY_KEY, QFPAY_MCP_TOKEN, ...); see qfpay-mcp serve --help.
`;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    return reportFailure(error, io);
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help') {
    io.out(topLevelHelp());
    return EXIT_OK;
  }
  if (first === 'help') return helpFor(rest, io);
  if (first === '-v' || first === '--version') {
    if (rest.length > 0) throw new UsageError('--version takes no other arguments');
    io.out(`${readPackageVersion()}\n`);
    return EXIT_OK;
  }
  if (first === undefined || first.startsWith('-')) return findSubcommand(DEFAULT_SUBCOMMAND).run(argv, io);
  return findSubcommand(first).run(rest, io);
}

async function helpFor(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...extra] = argv;
  if (name === undefined) {
    io.out(topLevelHelp());
    return EXIT_OK;
  }
  if (extra.length > 0) throw new UsageError('help takes at most one command name');
  return findSubcommand(name).run(['--help'], io);
}

function findSubcommand(name: string): Subcommand {
  const command = SUBCOMMANDS.find((candidate) => candidate.name === name);
  if (command) return command;
  // Echo the name only when it looks like a command; a stray positional could be a pasted secret.
  const shown = /^[a-z][a-z0-9-]{0,30}$/i.test(name) ? `"${name}"` : 'argument';
  throw new UsageError(`unknown command ${shown}; commands: ${SUBCOMMANDS.map((c) => c.name).join(', ')}`);
}

function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    const helpCommand =
      error.command && error.command !== 'qfpay-mcp'
        ? `qfpay-mcp ${error.command} --help`
        : 'qfpay-mcp --help';
    io.err(`qfpay-mcp: ${error.message}\nRun "${helpCommand}" for usage.\n`);
    return EXIT_USAGE;
  }
  if (error instanceof QfpayError) {
    io.err(`qfpay-mcp: ${error.message}\n  what to do: ${error.nextAction}\n`);
    return EXIT_FAILURE;
  }
  if (error instanceof HttpStartupError) {
    io.err(`qfpay-mcp: ${error.message}\n`);
    return EXIT_FAILURE;
  }
  io.err(`qfpay-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
  // Subcommands may carry their own exit code (e.g. the simulator's usage errors use 2).
  const exitCode = (error as { exitCode?: unknown } | null)?.exitCode;
  return typeof exitCode === 'number' && Number.isInteger(exitCode) && exitCode > 0 ? exitCode : EXIT_FAILURE;
}
