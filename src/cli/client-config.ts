import { realpathSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { packagePath } from '../package-files.js';
import { EXIT_OK, UsageError, rejectSecretFlags } from './args.js';
import type { CliIo } from './args.js';

/**
 * `qfpay-mcp client-config`: ready-to-paste MCP client entries for THIS installation (the absolute
 * path of the running node and of this package's `dist/cli.js`), one per client, with each client's
 * own placeholder syntax for secrets so no secret is ever printed or written into a config file.
 * `mcp.json.example` is this output with a placeholder path; a test keeps the two identical.
 */

export const CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode', 'openclaw', 'http'] as const;
export type ClientName = (typeof CLIENTS)[number];

export interface ClientConfigOptions {
  /** The program the client starts (absolute node path by default). */
  readonly command: string;
  /** Its arguments (the absolute path of dist/cli.js by default). */
  readonly args: readonly string[];
  /** `local` (embedded simulator, no credentials) or a QFPay environment that needs them. */
  readonly environment: 'local' | 'sandbox' | 'test' | 'prod';
  /** The Streamable HTTP endpoint for the `http` entries. */
  readonly url: string;
}

export interface ClientConfig {
  readonly client: ClientName;
  /** Where the entry goes. */
  readonly file: string;
  /** What the person needs to know to use it (expansion rules, restart). */
  readonly note: string;
  /** The JSON to merge into that file. */
  readonly config: Record<string, unknown>;
  /** The same registration as a command line, for clients that have one. */
  readonly command?: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:3939/mcp';

/** Credential variables for an environment, written in a client's placeholder syntax. */
function credentialEnv(
  environment: ClientConfigOptions['environment'],
  placeholder: (name: string, id: string) => string,
): Record<string, string> {
  if (environment === 'local') return { QFPAY_ENV: 'local' };
  return {
    QFPAY_ENV: environment,
    QFPAY_APPCODE: placeholder('QFPAY_APPCODE', 'qfpay-appcode'),
    QFPAY_KEY: placeholder('QFPAY_KEY', 'qfpay-key'),
  };
}

function stdio(options: ClientConfigOptions, env: Record<string, string>): Record<string, unknown> {
  return { command: options.command, args: [...options.args], env };
}

/** Quotes a word for a POSIX shell only when it needs it; `${…}` stays literal in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function shellLine(words: readonly string[]): string {
  return words.map(shellWord).join(' ');
}

export function clientConfigs(options: ClientConfigOptions): ClientConfig[] {
  const local = options.environment === 'local';
  const shellEnv = credentialEnv(options.environment, (name) => `\${${name}}`);
  const vscodeInputs = local
    ? []
    : [
        { type: 'promptString', id: 'qfpay-appcode', description: 'QFPay app code' },
        { type: 'promptString', id: 'qfpay-key', description: 'QFPay client key', password: true },
      ];
  const envFlags = (flag: string, env: Record<string, string>) =>
    Object.entries(env).flatMap(([name, value]) => [flag, `${name}=${value}`]);
  const bearer = 'Bearer ${QFPAY_MCP_TOKEN}';
  return [
    {
      client: 'claude-desktop',
      file: 'claude_desktop_config.json (macOS: ~/Library/Application Support/Claude/, Windows: %APPDATA%\\Claude\\)',
      note: local
        ? 'Restart Claude Desktop after editing.'
        : 'Claude Desktop does not expand variables in this file: replace the two values, keep the file private (chmod 600), restart Claude Desktop.',
      config: {
        mcpServers: {
          qfpay: stdio(
            options,
            credentialEnv(options.environment, (name) =>
              name === 'QFPAY_KEY' ? 'replace-with-your-client-key' : 'replace-with-your-app-code',
            ),
          ),
        },
      },
    },
    {
      client: 'claude-code',
      file: '.mcp.json (project) or ~/.claude.json',
      note: 'Claude Code expands ${VAR} from its own environment; an unset variable is a config error. Tools appear as mcp__qfpay__<tool>.',
      config: { mcpServers: { qfpay: { type: 'stdio', ...stdio(options, shellEnv) } } },
      command: shellLine([
        'claude',
        'mcp',
        'add',
        'qfpay',
        ...envFlags('-e', shellEnv),
        '--',
        options.command,
        ...options.args,
      ]),
    },
    {
      client: 'cursor',
      file: '.cursor/mcp.json (project) or ~/.cursor/mcp.json',
      note: 'Cursor expands ${env:NAME} from the environment it was started in.',
      config: {
        mcpServers: {
          qfpay: stdio(
            options,
            credentialEnv(options.environment, (name) => `\${env:${name}}`),
          ),
        },
      },
    },
    {
      client: 'vscode',
      file: '.vscode/mcp.json',
      note: local
        ? 'VS Code starts the server when a chat needs it.'
        : 'VS Code asks for the inputs once and stores them encrypted.',
      config: {
        ...(local ? {} : { inputs: vscodeInputs }),
        servers: {
          qfpay: {
            type: 'stdio',
            ...stdio(
              options,
              credentialEnv(options.environment, (_name, id) => `\${input:${id}}`),
            ),
          },
        },
      },
    },
    {
      client: 'openclaw',
      file: '~/.openclaw/openclaw.json',
      note: 'OpenClaw gives a stdio server only its own env block (plus PATH, HOME and a few more): credentials must be named there as ${VAR}, which OpenClaw fills from ~/.openclaw/.env or its environment. Tools appear as qfpay__<tool>.',
      // A first start may be slower than OpenClaw's 5 s default (cold disk, first npx download).
      config: { mcp: { servers: { qfpay: { ...stdio(options, shellEnv), connectionTimeoutMs: 60_000 } } } },
      command: shellLine([
        'openclaw',
        'mcp',
        'add',
        'qfpay',
        '--command',
        options.command,
        ...options.args.flatMap((arg) => ['--arg', arg]),
        ...envFlags('--env', shellEnv),
        '--connect-timeout',
        '60',
        '--approval',
        'prompt',
      ]),
    },
    {
      client: 'http',
      file: 'any client that speaks Streamable HTTP (start the server with: QFPAY_MCP_TOKEN=… qfpay-mcp serve --http)',
      note: 'Claude Code: this entry as is. Cursor: without "type", with ${env:QFPAY_MCP_TOKEN}. VS Code: under "servers". OpenClaw: under mcp.servers with transport "streamable-http", or it tries SSE (the command line below does this).',
      config: {
        mcpServers: { qfpay: { type: 'http', url: options.url, headers: { Authorization: bearer } } },
      },
      // OpenClaw's probe inside `mcp add` does not fill ${VAR} in headers (2026.9.6), so the entry
      // is saved unprobed and then probed the way every later connection is made.
      command: `${shellLine([
        'openclaw',
        'mcp',
        'add',
        'qfpay',
        '--url',
        options.url,
        '--transport',
        'streamable-http',
        '--header',
        `Authorization=${bearer}`,
        '--connect-timeout',
        '60',
        '--no-probe',
      ])} && openclaw mcp probe qfpay`,
    },
  ];
}

/** The running installation: this node and this package's built `cli.js`. */
function installedCommand(): { command: string; args: string[] } {
  const cli = realpathSync(packagePath('dist/cli.js'));
  return { command: process.execPath, args: [cli] };
}

const HELP = `Usage: qfpay-mcp client-config [--client NAME] [--environment ENV] [--url URL] [--json]

Prints a ready MCP client entry for this installation (absolute paths of node and of
qfpay-mcp's dist/cli.js) for each client, with secrets as placeholders the client fills in.

  --client NAME        only one of: ${CLIENTS.join(', ')}
  --environment ENV    local (default: embedded simulator, no credentials), sandbox, test or prod
  --url URL            the Streamable HTTP endpoint for the http entry (default ${DEFAULT_URL})
  --json               the entries as JSON
  -h, --help           this help
`;

export function runClientConfigCli(argv: readonly string[], io: CliIo): number {
  rejectSecretFlags(argv, 'client-config');
  let values: { client?: string; environment?: string; url?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        client: { type: 'string' },
        environment: { type: 'string' },
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, 'client-config');
  }
  if (values.help) {
    io.out(HELP);
    return EXIT_OK;
  }
  const environment = values.environment ?? 'local';
  if (!['local', 'sandbox', 'test', 'prod'].includes(environment))
    throw new UsageError('--environment must be one of local, sandbox, test, prod', 'client-config');
  const url = values.url ?? DEFAULT_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
    throw new UsageError('--url must be an http:// or https:// URL, e.g. ' + DEFAULT_URL, 'client-config');
  if (values.client !== undefined && !(CLIENTS as readonly string[]).includes(values.client))
    throw new UsageError(`--client must be one of ${CLIENTS.join(', ')}`, 'client-config');

  const all = clientConfigs({
    ...installedCommand(),
    environment: environment as ClientConfigOptions['environment'],
    url,
  });
  const chosen = values.client ? all.filter((entry) => entry.client === values.client) : all;
  io.out(values.json ? `${JSON.stringify(chosen, null, 2)}\n` : chosen.map(render).join('\n'));
  return EXIT_OK;
}

function render(entry: ClientConfig): string {
  const command = entry.command ? `\nOr run:\n  ${entry.command}\n` : '';
  return `## ${entry.client}: ${entry.file}\n${entry.note}\n\n${JSON.stringify(entry.config, null, 2)}\n${command}`;
}

/** The path the documentation shows where `client-config` prints this installation's own. */
export const PLACEHOLDER_CLI = '/absolute/path/to/qfpay-mcp/dist/cli.js';

/**
 * `mcp.json.example`: the printed entries with a placeholder path, the local rehearsal first, then
 * every client for sandbox. Keys named `//` are comments.
 */
export function exampleFile(version: string): string {
  const placeholder = { command: 'node', args: [PLACEHOLDER_CLI], url: DEFAULT_URL };
  const local = clientConfigs({ ...placeholder, environment: 'local' });
  const sandbox = clientConfigs({ ...placeholder, environment: 'sandbox' });
  const file: Record<string, unknown> = {
    '//': `Ready-made qfpay-mcp entries, one block per MCP client: copy the inner object into that client's config file (details: references/setup.md). Replace ${PLACEHOLDER_CLI} with the real path, or run "qfpay-mcp client-config" to print these entries with this installation's own paths. Once the package is published on npm, "command": "npx", "args": ["-y", "qfpay-mcp@${version}"] replaces node and the path (pinned: upgrade deliberately). Keys named // are comments; delete them if your client complains.`,
    'local-simulator (any client that reads mcpServers)': {
      '//': 'No credentials: the server starts its embedded QFPay simulator. Nothing real moves; use this first.',
      ...local.find((entry) => entry.client === 'claude-desktop')!.config,
    },
  };
  for (const entry of sandbox) {
    file[`${entry.client} (${entry.file})`] = {
      '//': entry.command ? `${entry.note} Command line: ${entry.command}` : entry.note,
      ...entry.config,
    };
  }
  return `${JSON.stringify(file, null, 2)}\n`;
}
