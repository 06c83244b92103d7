/**
 * The payment MCP App from the server's side, without a browser: the built view is one small file
 * that loads nothing from anywhere, three tools link it the library's way at a small context cost,
 * the resource declares its CSP, clients without Apps get the same content blocks as ever, and the
 * view's own rules (what a confirmation repeats, when an operator must approve) hold.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  canCancel,
  canRefund,
  confirmationFrom,
  isPending,
  paymentFromResult,
  updatedPayment,
} from '../../src/app-view/payment-state.js';
import { PAYMENT_VIEW_URI } from '../../src/mcp/app/payment-view.js';
import { call, connect, type Connected } from '../mcp/helpers.js';
import { assertFreshDist, ROOT } from '../support/dist.js';

const VIEW_FILE = path.join(ROOT, 'dist', 'app-view', 'payment.html');
const LINKED = ['create_payment', 'create_checkout_link', 'wait_for_payment'];
const MAX_VIEW_BYTES = 100 * 1024;

describe('the built view', () => {
  beforeAll(() => assertFreshDist());

  it('is one file of at most 100 KB with its scripts and styles inline', () => {
    const bytes = statSync(VIEW_FILE).size;
    console.log(`payment view: ${bytes} bytes (limit ${MAX_VIEW_BYTES})`);
    expect(bytes).toBeLessThanOrEqual(MAX_VIEW_BYTES);
    const html = readFileSync(VIEW_FILE, 'utf8');
    expect(html).toMatch(/<script type="module"[^>]*>[^<]/);
    expect(html).toMatch(/<style[^>]*>[^<]/);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
  });

  it('loads nothing from the network: no remote scripts, styles, fonts or images, no fetch', () => {
    const html = readFileSync(VIEW_FILE, 'utf8');
    const forbidden = [
      /(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i,
      /url\(\s*["']?(?:https?:)?\/\//i,
      /@import|@font-face/i,
      /\bfetch\(|XMLHttpRequest|WebSocket\(|EventSource\(|sendBeacon/,
    ];
    expect(forbidden.filter((pattern) => pattern.test(html)).map(String)).toEqual([]);
  });
});

describe('the server side of the app', () => {
  let env: Connected;
  beforeAll(async () => {
    env = await connect();
  });
  afterAll(async () => {
    await env.close();
  });

  it('links exactly the payment tools to ui://qfpay/payment, both keys the library sets, at a small cost', async () => {
    const { tools } = await env.client.listTools();
    const linked = tools.filter((tool) => tool._meta !== undefined);
    expect(linked.map((tool) => tool.name).sort()).toEqual([...LINKED].sort());
    const encoder = getEncoding('o200k_base');
    for (const tool of linked) {
      expect(tool._meta).toEqual({
        ui: { resourceUri: PAYMENT_VIEW_URI },
        [RESOURCE_URI_META_KEY]: PAYMENT_VIEW_URI,
      });
      const cost = encoder.encode(JSON.stringify({ _meta: tool._meta })).length;
      console.log(`${tool.name}: _meta costs ${cost} o200k tokens`);
      expect(cost).toBeLessThanOrEqual(30);
    }
  });

  it('serves the view as an MCP App resource that declares no network at all', async () => {
    const { resources } = await env.client.listResources();
    const listed = resources.find((resource) => resource.uri === PAYMENT_VIEW_URI);
    expect(listed).toMatchObject({ mimeType: RESOURCE_MIME_TYPE });
    const read = await env.client.readResource({ uri: PAYMENT_VIEW_URI });
    const content = read.contents[0] as { mimeType: string; text: string; _meta?: unknown };
    expect(content.mimeType).toBe(RESOURCE_MIME_TYPE);
    expect(content.text).toBe(readFileSync(VIEW_FILE, 'utf8'));
    expect(content._meta).toEqual({
      ui: { csp: { connectDomains: [], resourceDomains: [] }, prefersBorder: false },
    });
  });

  it('gives a client without Apps the same blocks as a server without the view: one text and the QR image', async () => {
    const created = await env.client.callTool({
      name: 'create_payment',
      arguments: { pay_type: '800101', txamt: 1234, txcurrcd: 'HKD' },
    });
    const content = created.content as { type: string; mimeType?: string }[];
    expect(content.map((block) => block.type)).toEqual(['text', 'image']);
    expect(content[1]!.mimeType).toBe('image/png');
    expect(created._meta).toBeUndefined();
    const structured = created.structuredContent as Record<string, unknown>;
    expect(structured['status']).toBe('AWAITING_CUSTOMER');
    expect(typeof structured['qrcode']).toBe('string');
    const waited = await call(env.client, 'wait_for_payment', {
      out_trade_no: structured['out_trade_no'],
      timeout_seconds: 1,
    });
    expect(waited.structured['status']).toBe('AWAITING_CUSTOMER');
    expect(waited.images).toEqual([]);
  });
});

describe("the view's rules", () => {
  const image = { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' };
  const awaiting = {
    content: [{ type: 'text' }, image],
    structuredContent: {
      status: 'AWAITING_CUSTOMER',
      syssn: '20261202420182000000000001',
      out_trade_no: 'ORDER1',
      txamt: 1234,
      txcurrcd: 'HKD',
    },
  };

  it('reads the payment, its QR and the actions it allows from a create_payment result', () => {
    const payment = paymentFromResult(awaiting)!;
    expect(payment).toMatchObject({ txamt: 1234, txcurrcd: 'HKD', status: 'AWAITING_CUSTOMER' });
    expect(payment.qrImage).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(canCancel(payment)).toBe(true);
    expect(canRefund(payment)).toBe(false);
  });

  it('offers the checkout link of a create_checkout_link result, and only http(s) links', () => {
    const link = paymentFromResult({
      structuredContent: {
        ...awaiting.structuredContent,
        syssn: undefined,
        checkout_url: 'http://127.0.0.1:1234/checkstand/#/?x=1',
      },
    })!;
    expect(link).toMatchObject({ link: 'http://127.0.0.1:1234/checkstand/#/?x=1', outTradeNo: 'ORDER1' });
    expect(link.syssn).toBeUndefined();
    const script = paymentFromResult({
      structuredContent: { ...awaiting.structuredContent, pay_url: 'javascript:alert(1)' },
    })!;
    expect(script.link).toBeUndefined();
  });

  it('shows a payment still awaiting confirmation without any action or polling', () => {
    const payment = paymentFromResult({
      structuredContent: { ...awaiting.structuredContent, status: 'CONFIRMATION_REQUIRED' },
    })!;
    expect(payment.status).toBe('CONFIRMATION_REQUIRED');
    expect([isPending(payment), canRefund(payment), canCancel(payment)]).toEqual([false, false, false]);
  });

  it("keeps the payment's own references when a refund answers with the refund's", () => {
    const payment = updatedPayment(
      paymentFromResult(awaiting)!,
      { structuredContent: { status: 'PAID' } },
      'x',
    );
    const refunded = updatedPayment(
      payment,
      {
        structuredContent: {
          status: 'PARTIALLY_REFUNDED',
          syssn: 'REFUNDSYSSN',
          out_trade_no: 'REFUND1',
          txamt: 500,
          txcurrcd: 'HKD',
          refunded_txamt: 500,
          refundable_txamt: 734,
        },
      },
      'refund',
    );
    expect(refunded).toMatchObject({
      syssn: '20261202420182000000000001',
      outTradeNo: 'ORDER1',
      txamt: 1234,
      status: 'PARTIALLY_REFUNDED',
      refundedTxamt: 500,
      refundableTxamt: 734,
    });
    expect(canRefund(refunded)).toBe(true);
  });

  it('repeats a refund with the reference, amount and token the guard bound, and never marks a plain one as operator-only', () => {
    const pending = confirmationFrom(
      'refund',
      { syssn: 'S1', txamt: 500 },
      {
        structuredContent: {
          status: 'CONFIRMATION_REQUIRED',
          out_trade_no: 'mcprf1',
          txamt: 500,
          confirmation_token: 'TOKEN',
          confirmation_summary: 'Refund HKD 5.00',
          next_action: 'Nothing was sent to QFPay. Show confirmation_summary to the user.',
        },
      },
    )!;
    expect(pending.confirmArguments).toEqual({
      syssn: 'S1',
      txamt: 500,
      out_trade_no: 'mcprf1',
      confirmation_token: 'TOKEN',
    });
    expect(pending.summary).toBe('Refund HKD 5.00');
    expect(pending.operatorApprovalUrl).toBeUndefined();
  });

  it('shows an operator-only approval as such, with the approval page it names', () => {
    const pending = confirmationFrom(
      'cancel_payment',
      { syssn: 'S1' },
      {
        structuredContent: {
          status: 'CONFIRMATION_REQUIRED',
          confirmation_token: 'TOKEN',
          next_action:
            'Nothing was sent to QFPay. This server takes approvals only from the operator, on its own page: give the person this link to open and approve there: http://127.0.0.1:8765/approve/abc . Once they approved, call cancel_payment again.',
        },
      },
    )!;
    expect(pending.operatorApprovalUrl).toBe('http://127.0.0.1:8765/approve/abc');
    expect(pending.confirmArguments).toEqual({ syssn: 'S1', confirmation_token: 'TOKEN' });
  });
});
