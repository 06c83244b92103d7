import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import QRCode from 'qrcode';

import { packagePath } from '../package-files.js';
import { verifyLedgerFile } from '../safety/ledger.js';
import { DEFAULT_SIMULATOR_CREDENTIAL, startSimulator } from '../simulator/index.js';
import type { RunningSimulator } from '../simulator/index.js';

/**
 * `npm run demo`: a scripted agent session through the official MCP client, over stdio, against
 * the built `qfpay-mcp` and the QFPay simulator. It runs the flows an agent runs for a merchant —
 * pick a pay type, create a QR payment (the QR is drawn in the terminal), the customer pays, wait
 * with progress, partial refund, query, and two errors explained — and prints what each tool was
 * asked and answered. Every step checks its answer, so the demo fails loudly if the server
 * misbehaves. No real money: QFPAY_ENV=local and a simulator on loopback.
 *
 * The simulator is started here rather than inside the server so the demo can keep its clock out
 * of QFPay's nightly refund cut-off (23:30–00:30 Hong Kong time, which the simulator enforces).
 * The server still runs in the `local` environment, exactly as it would embedded.
 */

export interface DemoOptions {
  /** Where the transcript goes (default: stdout). */
  readonly write?: (text: string) => void;
  /** The built CLI to spawn (default: dist/cli.js of this package). */
  readonly cliPath?: string;
  /** How long the simulated customer takes to pay, in ms (default 2500). */
  readonly customerDelayMs?: number;
  /** ANSI colours (default: when stdout is a terminal). */
  readonly color?: boolean;
}

interface ToolAnswer {
  readonly isError: boolean;
  readonly summary: string;
  readonly structured: Record<string, unknown>;
  readonly images: number;
}

/** A step that did not answer as it should; ends the demo with exit code 1. */
class DemoStepError extends Error {}

const REFUND_CUTOFF_START_MINUTE = 23 * 60 + 30;
const REFUND_CUTOFF_END_MINUTE = 30;

export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const color = options.color ?? (options.write === undefined && process.stdout.isTTY === true);
  const out = new Transcript(write, color);
  const cliPath = options.cliPath ?? packagePath('dist/cli.js');
  const customerDelayMs = options.customerDelayMs ?? 2_500;

  const stateDir = await mkdtemp(path.join(tmpdir(), 'qfpay-demo-'));
  let simulator: RunningSimulator | undefined;
  let client: Client | undefined;
  let serverLog = '';
  try {
    simulator = await startSimulator({ quiet: true });
    const clockNote = keepClockOutOfRefundCutoff(simulator);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [cliPath],
      env: {
        ...getDefaultEnvironment(),
        QFPAY_ENV: 'local',
        QFPAY_BASE_URL: simulator.baseUrl,
        // The simulator's documented, obviously fake credential: not a secret.
        QFPAY_APPCODE: DEFAULT_SIMULATOR_CREDENTIAL.appcode,
        QFPAY_KEY: DEFAULT_SIMULATOR_CREDENTIAL.key,
        QFPAY_STATE_DIR: stateDir,
      },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (serverLog += chunk.toString('utf8')));
    client = new Client({ name: 'qfpay-mcp-demo', version: '1.0.0' });

    out.banner();
    if (clockNote) out.note(clockNote);
    await client.connect(transport);
    await new DemoSession(client, out, simulator, customerDelayMs).run();
    await client.close();
    client = undefined;
    await reportLedger(out, path.join(stateDir, 'audit-local.jsonl'));
    out.line('');
    out.line(out.bold('Demo finished: every step answered as expected.'));
    return 0;
  } catch (error) {
    out.line('');
    out.line(out.red(`Demo failed: ${error instanceof Error ? error.message : String(error)}`));
    if (!(error instanceof DemoStepError) && serverLog.trim() !== '') {
      out.line('Server log (stderr):');
      for (const line of serverLog.trim().split('\n').slice(-15)) out.line(`  ${line}`);
    }
    return 1;
  } finally {
    await client?.close().catch(() => undefined);
    await simulator?.close().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** QFPay refuses refunds 23:30–00:30 Hong Kong time; the demo's refunds should not depend on the hour. */
function keepClockOutOfRefundCutoff(simulator: RunningSimulator): string | undefined {
  const hongKong = new Date(simulator.control.clock().epoch_ms + 8 * 3_600_000);
  const minute = hongKong.getUTCHours() * 60 + hongKong.getUTCMinutes();
  const inCutoff = minute >= REFUND_CUTOFF_START_MINUTE || minute < REFUND_CUTOFF_END_MINUTE;
  if (!inCutoff) return undefined;
  const minutesToSkip =
    (minute >= REFUND_CUTOFF_START_MINUTE
      ? 24 * 60 - minute + REFUND_CUTOFF_END_MINUTE
      : REFUND_CUTOFF_END_MINUTE - minute) + 1;
  simulator.control.setClock({ advanceMs: minutesToSkip * 60_000 });
  return `It is inside QFPay's nightly refund cut-off (23:30–00:30 Hong Kong time), so the simulator's clock was moved to ${simulator.control.clock().now} (UTC+8).`;
}

async function reportLedger(out: Transcript, file: string): Promise<void> {
  try {
    await stat(file);
  } catch {
    return;
  }
  const verdict = await verifyLedgerFile(file);
  out.line('');
  out.line(
    verdict.ok
      ? `Audit ledger: ${verdict.records} hash-chained records of the money-moving calls above, chain intact (qfpay-mcp audit verify).`
      : `Audit ledger: broken at record ${verdict.firstBrokenSeq}: ${verdict.reason}`,
  );
  if (!verdict.ok) throw new DemoStepError('the audit ledger does not verify');
}

class DemoSession {
  #step = 0;

  constructor(
    private readonly client: Client,
    private readonly out: Transcript,
    private readonly simulator: RunningSimulator,
    private readonly customerDelayMs: number,
  ) {}

  async run(): Promise<void> {
    const { tools } = await this.client.listTools();
    this.out.line(
      `Connected over stdio. The server offers ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}.`,
    );

    this.out.heading('A customer wants to pay HKD 10.50 for a flat white with Alipay.');
    await this.call(
      'list_pay_types',
      { mode: 'MPM', wallet: 'Alipay' },
      'Which pay type shows an Alipay QR?',
      {
        expect: (a) => expectIncludes(a.summary, '800101'),
      },
    );

    this.out.say(
      'Agent: "I will charge HKD 10.50 (1050 cents) with Alipay QR, order reference generated. OK?" Merchant: "Yes."',
    );
    const payment = await this.call(
      'create_payment',
      { pay_type: '800101', txamt: 1050, txcurrcd: 'HKD', goods_name: 'Flat white' },
      'Create the QR payment (amounts are integers in cents).',
      { expect: (a) => expectStatus(a, 'AWAITING_CUSTOMER') },
    );
    const syssn = text(payment.structured.syssn, 'syssn');
    const qrcode = text(payment.structured.qrcode, 'qrcode');
    this.out.line(
      `    The answer also carries the QR as a PNG image (${payment.images} image block); drawn here for the terminal:`,
    );
    // ANSI blocks for a terminal; plain half-block characters when the transcript goes to a file.
    this.out.qr(
      this.out.color
        ? await QRCode.toString(qrcode, { type: 'terminal', small: true })
        : await QRCode.toString(qrcode, { type: 'utf8', margin: 2 }),
    );
    this.out.line(`    QR content: ${qrcode}`);

    await this.waitWhileCustomerPays(syssn);

    this.out.heading('The customer returns half the coffee. Partial refund of HKD 5.50.');
    this.out.say('Agent: "Refund HKD 5.50 (550 cents) of payment ' + syssn + '?" Merchant: "Yes."');
    await this.call('refund', { syssn, txamt: 550 }, 'Refund part of the payment.', {
      expect: (a) => {
        expectStatus(a, 'PARTIALLY_REFUNDED');
        expectField(a, 'refundable_txamt', 500);
      },
    });
    await this.call('query_transaction', { syssn }, 'Check the payment and what is still refundable.', {
      expect: (a) => {
        expectStatus(a, 'PARTIALLY_REFUNDED');
        const payment = (a.structured.payments as Array<Record<string, unknown>> | undefined)?.[0];
        if (payment?.refundable_txamt !== 500)
          throw new Error(`expected 500 still refundable, got ${JSON.stringify(payment?.refundable_txamt)}`);
      },
    });

    this.out.heading('Two errors, explained instead of guessed.');
    await this.call(
      'refund',
      { syssn, txamt: 1000 },
      'Refund more than is left (HKD 10.00 of the remaining 5.00).',
      {
        expectError: true,
        // Refused by the server before anything is sent to QFPay.
        expect: (a) => expectErrorKind(a, 'validation', 'txamt'),
      },
    );
    const failed = await this.call(
      'create_payment',
      { pay_type: '800008', txamt: 2000, txcurrcd: 'HKD', auth_code: '134567890123451201' },
      'Scan a customer wallet code (CPM). In the simulator an auth_code ending in 1201 means "insufficient balance".',
      { expectError: true, expect: (a) => expectField(a, 'respcd', '1201') },
    );
    await this.call(
      'explain_respcd',
      { respcd: text(failed.structured.respcd, 'respcd'), endpoint: 'payment' },
      'What does 1201 mean, and what now?',
      {
        expect: (a) => expectIncludes(a.summary, 'Nothing was charged'),
      },
    );

    const requests = this.simulator.control.requests();
    const byPath = new Map<string, number>();
    for (const request of requests) byPath.set(request.path, (byPath.get(request.path) ?? 0) + 1);
    this.out.line('');
    this.out.line(
      `QFPay (the simulator) received ${requests.length} signed requests: ${[...byPath].map(([p, n]) => `${n} × ${p}`).join(', ')}.`,
    );
  }

  /** wait_for_payment runs while the simulated customer pays; its progress is printed live. */
  private async waitWhileCustomerPays(syssn: string): Promise<void> {
    this.out.heading('The customer scans the QR. The agent waits, with progress.');
    const waiting = this.call(
      'wait_for_payment',
      { syssn, timeout_seconds: 30 },
      'Wait until the payment is final.',
      {
        progress: true,
        expect: (a) => expectStatus(a, 'PAID'),
      },
    );
    await new Promise((resolve) => setTimeout(resolve, this.customerDelayMs));
    this.out.line(this.out.dim('    [customer scans the QR with Alipay and confirms]'));
    await this.call(
      'simulate_customer_payment',
      { syssn, outcome: 'pay' },
      'Simulator only: act as the customer.',
      {
        expect: (a) => expectStatus(a, 'PAID'),
      },
    );
    await waiting;
  }

  private async call(
    name: string,
    args: Record<string, unknown>,
    why: string,
    check: { expect?: (answer: ToolAnswer) => void; expectError?: boolean; progress?: boolean },
  ): Promise<ToolAnswer> {
    const step = ++this.#step;
    this.out.line('');
    this.out.line(`${this.out.bold(`[${step}] ${name}`)}  ${this.out.dim(why)}`);
    this.out.line(`    → ${JSON.stringify(args)}`);
    const result = await this.client.callTool(
      { name, arguments: args },
      check.progress
        ? {
            onprogress: (progress) =>
              this.out.line(
                this.out.dim(`    … ${progress.message ?? `${progress.progress}/${progress.total ?? '?'}`}`),
              ),
            resetTimeoutOnProgress: true,
          }
        : undefined,
    );
    const answer = toAnswer(result);
    const mark = answer.isError ? this.out.red('← error') : this.out.green('←');
    const [first = '', ...rest] = answer.summary.split('\n');
    this.out.line(`    ${mark} [${name}] ${first}`);
    for (const line of rest) this.out.line(`      ${line}`);
    if (answer.isError !== (check.expectError ?? false))
      throw new DemoStepError(
        `step ${step} (${name}) ${answer.isError ? 'failed' : 'succeeded'} unexpectedly`,
      );
    try {
      check.expect?.(answer);
    } catch (error) {
      throw new DemoStepError(`step ${step} (${name}): ${(error as Error).message}`);
    }
    return answer;
  }
}

function toAnswer(result: unknown): ToolAnswer {
  const r = result as {
    isError?: boolean;
    content?: Array<{ type: string; text?: string }>;
    structuredContent?: Record<string, unknown>;
  };
  const content = r.content ?? [];
  return {
    isError: r.isError === true,
    summary: content.find((block) => block.type === 'text')?.text ?? '',
    structured: r.structuredContent ?? {},
    images: content.filter((block) => block.type === 'image').length,
  };
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new DemoStepError(`the answer has no ${field}`);
  return value;
}

function expectStatus(answer: ToolAnswer, status: string): void {
  if (answer.structured.status !== status)
    throw new Error(`expected status ${status}, got ${String(answer.structured.status)}`);
}

function expectField(answer: ToolAnswer, field: string, value: unknown): void {
  if (JSON.stringify(answer.structured[field]) !== JSON.stringify(value))
    throw new Error(
      `expected ${field} ${JSON.stringify(value)}, got ${JSON.stringify(answer.structured[field])}`,
    );
}

function expectErrorKind(answer: ToolAnswer, kind: string, field: string): void {
  const error = answer.structured.error as { kind?: unknown; field?: unknown } | undefined;
  if (error?.kind !== kind || error.field !== field)
    throw new Error(`expected a ${kind} error on ${field}, got ${JSON.stringify(error)}`);
}

function expectIncludes(haystack: string, needle: string): void {
  if (!haystack.includes(needle)) throw new Error(`expected the answer to mention ${JSON.stringify(needle)}`);
}

class Transcript {
  constructor(
    private readonly write: (text: string) => void,
    readonly color: boolean,
  ) {}

  line(text: string): void {
    this.write(`${text}\n`);
  }

  banner(): void {
    this.line(this.bold('qfpay-mcp demo: an agent session over MCP (stdio), against the QFPay simulator.'));
    this.line(
      'Environment "local": no real money moves. Each step shows the tool, its arguments (→) and its answer (←).',
    );
  }

  heading(text: string): void {
    this.line('');
    this.line(this.bold(`── ${text}`));
  }

  say(text: string): void {
    this.line(this.dim(`    ${text}`));
  }

  note(text: string): void {
    this.line(this.dim(`Note: ${text}`));
  }

  qr(rendered: string): void {
    for (const row of rendered.trimEnd().split('\n')) this.line(`    ${row}`);
  }

  bold(text: string): string {
    return this.paint(text, '1');
  }

  dim(text: string): string {
    return this.paint(text, '2');
  }

  red(text: string): string {
    return this.paint(text, '31');
  }

  green(text: string): string {
    return this.paint(text, '32');
  }

  private paint(text: string, code: string): string {
    return this.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) process.exitCode = await runDemo();
