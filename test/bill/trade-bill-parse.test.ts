import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';

import { TradeBillError } from '../../src/qfpay/trade-bill.js';
import { parseTradeBill } from '../../src/qfpay/trade-bill-reader.js';
import { withDeclaredSize } from './helpers.js';

/** The bill layout this server reads (docs/simulator.md, "Trade bill"), from bytes built here. */

const zipOf = (csv: string, name = 'bill.csv'): Uint8Array => zipSync({ [name]: Buffer.from(csv, 'utf8') });

function problemOf(action: () => unknown): { problem: string; message: string } {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TradeBillError);
    return { problem: (error as TradeBillError).problem, message: (error as Error).message };
  }
  throw new Error('expected a TradeBillError');
}

describe('parseTradeBill', () => {
  it('finds columns by name in any order, with a BOM, quotes, unknown columns and either origssn name', () => {
    const csv = [
      '\uFEFFcancel,TXAMT,note,order_type,syssn,out_trade_no,txcurrcd,sysdtm,respcd,orig_syssn,goods_name',
      '5,1200,ignored,payment,S1,order-1,hkd,2026-03-16 12:00:00,0000,,"Tea, ""green"""',
      '0,200,x,refund,S2,order-1r,HKD,2026-03-16 12:05:00,0000,S1,',
      '',
    ].join('\r\n');
    const rows = parseTradeBill(zipOf(csv));
    expect(rows).toEqual([
      expect.objectContaining({
        syssn: 'S1',
        txamt: 1200,
        txcurrcd: 'HKD',
        cancel: '5',
        goods_name: 'Tea, "green"',
      }),
      expect.objectContaining({ syssn: 'S2', order_type: 'refund', origssn: 'S1', txamt: 200 }),
    ]);
    const other =
      'syssn,out_trade_no,order_type,txamt,txcurrcd,sysdtm,respcd,cancel,origssn\nS3,o3,refund,5,HKD,2026-03-16 01:00:00,0000,0,S1\n';
    expect(parseTradeBill(zipOf(other))[0]?.origssn).toBe('S1');
  });

  it("keeps this merchant's rows only when the bill names merchants", () => {
    const csv = [
      'syssn,out_trade_no,order_type,txamt,txcurrcd,sysdtm,respcd,cancel,mchid',
      'S1,o1,payment,100,HKD,2026-03-16 12:00:00,0000,0,MINE',
      'S2,o2,payment,200,HKD,2026-03-16 12:00:00,0000,0,THEIRS',
      'S3,o3,payment,300,HKD,2026-03-16 12:00:00,0000,0,',
    ].join('\n');
    expect(parseTradeBill(zipOf(csv), { mchid: 'MINE' }).map((r) => r.syssn)).toEqual(['S1']);
    expect(parseTradeBill(zipOf(csv)).map((r) => r.syssn)).toEqual(['S3']);
  });

  it('refuses what is not a bill with a typed error that names the problem, not the content', () => {
    expect(problemOf(() => parseTradeBill(Buffer.from('<html>secret-ish</html>')))).toMatchObject({
      problem: 'not_zip',
    });
    expect(problemOf(() => parseTradeBill(zipSync({ 'readme.txt': Buffer.from('hi') })))).toMatchObject({
      problem: 'no_csv',
    });
    const noColumns = problemOf(() => parseTradeBill(zipOf('date,amount\n2026-03-16,100\n')));
    expect(noColumns.problem).toBe('not_a_bill');
    expect(noColumns.message).toContain('syssn, out_trade_no, order_type, txamt');
    const badAmount = problemOf(() =>
      parseTradeBill(
        zipOf(
          'syssn,out_trade_no,order_type,txamt,txcurrcd,sysdtm,respcd,cancel\nS1,o1,payment,12.50,HKD,2026-03-16 12:00:00,0000,0\n',
        ),
      ),
    );
    expect(badAmount).toMatchObject({ problem: 'not_a_bill' });
    expect(badAmount.message).toContain('row 2: txamt');
    expect(badAmount.message).not.toContain('12.50');
    expect(problemOf(() => parseTradeBill(Buffer.from([0xff, 0xfe, 0x00])))).toMatchObject({
      problem: 'not_zip',
    });
    const notUtf8 = problemOf(() => parseTradeBill(zipSync({ 'b.csv': Buffer.from([0xc3, 0x28]) })));
    expect(notUtf8.problem).toBe('not_a_bill');
    expect(notUtf8.message).toContain('UTF-8');
  });

  it('refuses an archive declaring more than the cap before inflating it (zip bombs)', () => {
    const bomb = withDeclaredSize(zipOf('syssn\n'), 0xfff0_0000);
    const refused = problemOf(() => parseTradeBill(bomb));
    expect(refused.problem).toBe('too_large');
    expect(refused.message).toContain(`over the ${64 * 1024 * 1024}-byte limit`);
    // A real archive over a (small) cap is refused the same way.
    expect(
      problemOf(() => parseTradeBill(zipOf('x'.repeat(2000)), { maxUncompressedBytes: 1000 })),
    ).toMatchObject({
      problem: 'too_large',
    });
  });
});

describe('the CSV inside', () => {
  it('keeps a line break quoted inside a field, and calls broken quoting not a bill', () => {
    const header = 'syssn,out_trade_no,order_type,txamt,txcurrcd,sysdtm,respcd,cancel,goods_name';
    const rows = parseTradeBill(
      zipOf(`${header}\nS1,o1,payment,100,HKD,2026-03-16 12:00:00,0000,0,"two\nlines"\n`),
    );
    // Read as one field (upstream text is then made single-line, as every answer's is).
    expect(rows[0]?.goods_name).toBe('two lines');
    const broken = problemOf(() =>
      parseTradeBill(zipOf(`${header}\nS1,o1,payment,100,HKD,2026-03-16 12:00:00,0000,0,"unclosed\n`)),
    );
    expect(broken.problem).toBe('not_a_bill');
    expect(broken.message).toMatch(/malformed/);
    expect(broken.message).not.toContain('unclosed');
  });
});
