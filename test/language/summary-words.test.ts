import { describe, expect, it } from 'vitest';

import { approvalQuestion } from '../../src/mcp/approval.js';
import { LANGUAGES, languageNamed } from '../../src/qfpay/language.js';
import type { WriteIntent } from '../../src/safety/guard.js';
import { intentFingerprint } from '../../src/safety/safe-guard.js';
import { confirmationSummary, operatorPageMessage } from '../../src/safety/summary.js';

/** The approval summary and question of every write tool in the three languages, as a person reads them. */
const capture: WriteIntent = {
  tool: 'capture_preauth',
  environment: 'test',
  merchant: { appcode: 'APPCODE0123456789', mchid: 'M1' },
  params: { syssn: '20260316000300020001', out_trade_no: 'cap-1', txamt: 3000, orig_out_trade_no: 'auth-1' },
  out_trade_no: 'cap-1',
  txamt: 3000,
  txcurrcd: 'HKD',
  orig_syssn: '20260316000300020001',
  summary: 'Capture HKD 30.00 (thirty Hong Kong dollars) of pre-authorisation 20260316000300020001.',
};

describe('approval summaries of the pre-authorisation tools', () => {
  it('capture in zh-CN: the action, the amount and every reference in Simplified Chinese words', () => {
    const lines = confirmationSummary(capture, 'zh-CN').split('\n');
    expect(lines[0]).toBe('从预授权扣取款项：HKD 30.00');
    expect(lines).toContain('扣款编号 (out_trade_no)：cap-1');
    expect(lines).toContain('预授权：syssn 20260316000300020001, 订单 auth-1');
    expect(lines.join('\n')).toContain('三十点零零港元');
  });

  it('release in zh-HK and capture in English keep their references', () => {
    const release: WriteIntent = { ...capture, tool: 'release_preauth', out_trade_no: 'auth-1' };
    expect(confirmationSummary(release, 'zh-HK')).toContain(
      '被釋放的預授權：out_trade_no auth-1, syssn 20260316000300020001',
    );
    const english = confirmationSummary(capture, 'en').split('\n');
    expect(english[0]).toBe(capture.summary);
    expect(english).toContain('Capture reference (out_trade_no): cap-1');
  });

  it('the approval page’s message names the action in the language', () => {
    expect(operatorPageMessage(capture, 'zh-HK')).toBe(
      '請在伺服器自己的批准頁面批准：從預授權扣取款項：HKD 30.00',
    );
    expect(operatorPageMessage(capture)).toBe(`Approve on the server's own page: ${capture.summary}`);
  });

  it('the language is not part of the intent’s identity', () => {
    const fingerprints = LANGUAGES.map((language) => intentFingerprint({ ...capture, language }));
    expect(new Set(fingerprints).size).toBe(1);
    expect(fingerprints[0]).toBe(intentFingerprint(capture));
  });
});

describe('the question around the summary', () => {
  it('asks in the summary’s language; the answer field stays `approve`', () => {
    const question = approvalQuestion('摘要', 'zh-HK');
    expect(question.message).toBe('摘要\n\n是否批准？除非你接受，否則不會向 QFPay 發送任何請求。');
    expect(question.requestedSchema.properties).toEqual({
      approve: { type: 'boolean', title: '批准', description: '勾選即執行上面所述的操作，不多不少。' },
    });
    expect(approvalQuestion('summary').message).toContain('Approve this?');
  });
});

describe('a lang argument as a language', () => {
  it('matches without regard to case (the checkout page’s zh-hk) and refuses anything else', () => {
    expect(languageNamed('zh-hk')).toBe('zh-HK');
    expect(languageNamed('ZH-CN')).toBe('zh-CN');
    expect(languageNamed('en')).toBe('en');
    expect(languageNamed('fr')).toBeUndefined();
    expect(languageNamed(undefined)).toBeUndefined();
  });
});
